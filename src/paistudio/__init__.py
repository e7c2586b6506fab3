"""paistudio: cinematic video background replacement.

    import paistudio
    record = paistudio.replace("fg.mp4", ["begin.jpg", "end.jpg@100%"], "out.mp4")
    record = paistudio.render(paistudio.Shot.load("out.shot.json"))
"""

__version__ = "0.1.0"


def __getattr__(name):  # lazy: importing paistudio stays cheap and side-effect free
    if name in ("replace", "render"):
        from . import api
        return getattr(api, name)
    if name == "Shot":
        from .shot import Shot
        return Shot
    raise AttributeError(name)
