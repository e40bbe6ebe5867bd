"""Backend that answers from recorded model outputs instead of calling a model.

Why: the engine, parsers and evaluation can then be exercised on the exact texts real models
returned (reasoning blocks, fences, truncated JSON, reasoning-only answers) at no cost and
with no network. Layout read (as in ``shared/data/llm_outputs``)::

    <folder>/<record_id>/pass{N}-<model-with-dashes>-raw.txt   the text the model returned
    <folder>/<record_id>/pass{N}-<model-with-dashes>.json      optional: the old parsed result,
                                                               read only for token counts

``<model-with-dashes>`` is the model id with ``:`` ``/`` ``.`` replaced by ``-``.

The text is returned verbatim (the engine's parser must cope with what models really send);
closed ``<reasoning>`` blocks are also copied to ``reasoning_text`` for telemetry. The recorded
calls have no stop reason, so it is inferred: ``max_tokens`` when the JSON is visibly cut off
(unbalanced braces after the first ``{``, outside strings and closed reasoning blocks, or an
unclosed ``<reasoning>`` block), else ``end_turn``. This flags exactly the 15 gpt-oss pass-1
and 1 MiniMax pass-2 truncations in the shared data.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from enrichment_dagster.llm.backend import BaseBackend
from enrichment_dagster.llm.prices import get_model, is_known_model
from enrichment_dagster.llm.types import (
    LLMRequest,
    LLMResponse,
    MissingAnswerError,
    StopReason,
)
from enrichment_dagster.storage.names import path_component

_REASONING_BLOCK = re.compile(r"<reasoning>(.*?)</reasoning>", re.DOTALL)
_SLUG_CHARS = re.compile(r"[:/.]")
_TOKEN_KEYS = (
    ("enrichment_input_tokens", "enrichment_output_tokens"),
    ("input_tokens", "output_tokens"),
)


def model_slug(model_id: str) -> str:
    """``openai.gpt-oss-120b-1:0`` → ``openai-gpt-oss-120b-1-0`` (the file-name form)."""
    return _SLUG_CHARS.sub("-", model_id)


class ReplayBackend(BaseBackend):
    """Answers each request with the recorded text for (record, pass, model)."""

    #: The answer depends on the record id, not only on the prompt: the engine must not
    #: share one record's answer with another id whose prompt looks the same.
    answers_by_record = True

    name = "replay"

    def __init__(self, folder: str | Path, model_id: str | None = None) -> None:
        """``model_id`` selects whose recordings to replay; None replays ``request.model_id``."""
        self.folder = Path(folder)
        self.model_id = model_id

    def complete(self, request: LLMRequest) -> LLMResponse:
        """The recorded answer; MissingAnswerError naming the file when there is none."""
        started = time.perf_counter()
        model_id = self.model_id or request.model_id
        raw_path = self.answer_path(request.record_id, request.pass_number, model_id)
        try:
            text = raw_path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise MissingAnswerError(
                f"no recorded answer for record {request.record_id}, pass "
                f"{request.pass_number}, model {model_id}: {raw_path} does not exist"
            ) from exc
        input_tokens, output_tokens = recorded_tokens(raw_path.with_name(_json_name(raw_path)))
        return LLMResponse(
            text=text,
            stop_reason=infer_stop_reason(text),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            latency_s=time.perf_counter() - started,
            attempts=1,
            reasoning_text=reasoning_of(text),
            model_id=model_id,
        )

    def answer_path(self, record_id: str, pass_number: int, model_id: str) -> Path:
        """Where the raw answer for (record, pass, model) is stored: the record's folder is
        named by :func:`~enrichment_dagster.storage.names.path_component` (a hostile id
        such as ``../x`` names a folder inside ``folder``, never outside it)."""
        name = f"pass{pass_number}-{model_slug(model_id)}-raw.txt"
        return self.folder / path_component(record_id) / name

    def cost_usd(self, model_id: str, input_tokens: int, output_tokens: int) -> float:
        """What the recorded call cost at table prices (0 for models without a price)."""
        if not is_known_model(model_id):
            return 0.0
        return get_model(model_id).cost_usd(input_tokens, output_tokens)


def _json_name(raw_path: Path) -> str:
    return raw_path.name.removesuffix("-raw.txt") + ".json"


def recorded_tokens(json_path: Path) -> tuple[int, int]:
    """(input, output) tokens from the sibling result file; (0, 0) when absent or unreadable."""
    return recorded_usage(json_path) or (0, 0)


def recorded_usage(json_path: Path) -> tuple[int, int] | None:
    """(input, output) tokens a recorded result file states, or None when it states none
    (missing, unreadable, or without both counts as whole numbers >= 0).

    Pass-1 files carry ``enrichment_input_tokens``/``enrichment_output_tokens``, pass-2/3
    files ``input_tokens``/``output_tokens`` (the old system's two layouts).
    """
    try:
        document: Any = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    result = document.get("result") if isinstance(document, dict) else None
    if not isinstance(result, dict):
        return None
    for in_key, out_key in _TOKEN_KEYS:
        if in_key in result or out_key in result:
            tokens = _as_int(result.get(in_key)), _as_int(result.get(out_key))
            return None if None in tokens else tokens  # type: ignore[return-value]
    return None


def _as_int(value: Any) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return value if ok else None


def reasoning_of(text: str) -> str | None:
    """The content of closed ``<reasoning>`` blocks, or None."""
    blocks = [block.strip() for block in _REASONING_BLOCK.findall(text)]
    return "\n\n".join(blocks) or None


def infer_stop_reason(text: str) -> StopReason:
    """``max_tokens`` when the answer is visibly cut off, else ``end_turn``."""
    return "max_tokens" if looks_truncated(text) else "end_turn"


def looks_truncated(text: str) -> bool:
    """True for an unclosed reasoning block or unbalanced JSON braces after the first ``{``.

    Braces inside JSON strings and inside closed reasoning blocks do not count.
    """
    body = _REASONING_BLOCK.sub("", text)
    if "<reasoning>" in body:
        return True
    start = body.find("{")
    if start < 0:
        return False
    depth, in_string, escaped = 0, False, False
    for char in body[start:]:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
    return depth > 0 or in_string
