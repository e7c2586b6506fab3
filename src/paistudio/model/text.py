"""The structured JSON prompt through the frozen text encoder (umT5 for Wan), as WanPipeline encodes it:
token states past each prompt's length are zeroed and the sequence is padded to a fixed length."""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass

import torch

from ..shot import PROMPT_FIELDS


def prompt_text(prompt) -> str:
    """A StructuredPrompt, a dict of its fields, or plain text -> the JSON string the model reads.
    Empty fields are left out, so an empty prompt is "" (the unconditional branch of guidance)."""
    if isinstance(prompt, str):
        return prompt
    d = asdict(prompt) if is_dataclass(prompt) else dict(prompt)
    unknown = set(d) - set(PROMPT_FIELDS)
    if unknown:
        raise ValueError(f"unknown prompt fields {sorted(unknown)}; use {list(PROMPT_FIELDS)}")
    kept = {k: str(d[k]) for k in PROMPT_FIELDS if d.get(k)}
    return json.dumps(kept, ensure_ascii=False) if kept else ""


class PromptEncoder:
    def __init__(self, tokenizer, text_encoder, max_len: int):
        self.tokenizer, self.max_len = tokenizer, int(max_len)
        self.encoder = text_encoder.eval().requires_grad_(False)
        self._cache: dict[str, torch.Tensor] = {}

    @property
    def dim(self) -> int:
        return int(self.encoder.config.d_model)

    @torch.no_grad()
    def encode(self, prompts: list) -> torch.Tensor:
        """prompts -> [B, max_len, dim] float32; cached per text (the encoder is frozen)."""
        texts = [prompt_text(p) for p in prompts]
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            tok = self.tokenizer(missing, padding="max_length", max_length=self.max_len, truncation=True,
                                 add_special_tokens=True, return_attention_mask=True, return_tensors="pt")
            device = next(self.encoder.parameters()).device
            states = self.encoder(tok.input_ids.to(device), tok.attention_mask.to(device)).last_hidden_state
            states = states.float() * tok.attention_mask.to(device)[..., None]  # zero past each prompt's end
            for t, s in zip(missing, states):
                self._cache[t] = s.cpu()
        return torch.stack([self._cache[t] for t in texts])


def offline_tokenizer(texts: list[str], vocab_size: int = 2000):
    """A small word-level tokenizer trained on `texts` (no download), wrapped as a transformers tokenizer;
    for tiny CPU models only. Real checkpoints ship their own umT5 tokenizer."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(), pre_tokenizers.Punctuation()])
    tok.train_from_iterator(texts, trainers.WordLevelTrainer(vocab_size=vocab_size,
                                                             special_tokens=["<pad>", "</s>", "<unk>"]))
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


def tiny_text_encoder(vocab_size: int, d_model: int, seed: int = 0):
    """A randomly initialised 1-layer umT5 encoder: a frozen, deterministic stand-in for tests and toy runs."""
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(seed)
    cfg = UMT5Config(vocab_size=vocab_size, d_model=d_model, d_kv=8, d_ff=2 * d_model, num_layers=1,
                     num_heads=max(1, d_model // 8), relative_attention_num_buckets=8, pad_token_id=0,
                     eos_token_id=1, decoder_start_token_id=0)
    return UMT5EncoderModel(cfg)
