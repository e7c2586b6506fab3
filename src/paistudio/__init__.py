"""paistudio."""
