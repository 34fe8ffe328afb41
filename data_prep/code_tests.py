"""Code test specs in the Klear-compatible JSON layout the code reward reads (docs/rewards.md), built
from each source.

Layouts produced: stdin ``{"inputs": [str], "outputs": [str]}``, call-based ``{..., "fn_name": str}``
(each input is newline-separated JSON arguments, each output one JSON value), or Klear functional
``{"functional": str | [str]}``; optional ``timeout`` / ``max_test_cases``. Klear's ``pytest`` and
file-based formats are rejected as unsupported (the reward module cannot run them).

LiveCodeBench's compressed private tests (base64 -> zlib -> pickle -> JSON string) are decoded by the
reward's decoder: strict base64, a restricted unpickler that resolves no global at all, and a cap on
the decompressed size.
"""

from __future__ import annotations

import json

from data_prep.errors import RowError
from g2rl_verl.rewards.code_spec import DEFAULT_MAX_DECOMPRESSED_BYTES, BadTestSpec
from g2rl_verl.rewards.code_spec import decode_compressed as _decode

_UNSUPPORTED_KEYS = ("pytest", "inputs_file", "outputs_file")


def decode_compressed(payload: str, max_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES):
    """base64 -> zlib (size-capped) -> restricted pickle -> JSON: the reward's decoder
    (`g2rl_verl.rewards.code_spec.decode_compressed`, the one home of this format), with its errors
    reported as row rejections."""
    try:
        return _decode(payload, max_bytes)
    except BadTestSpec as e:
        raise RowError(f"bad_test_spec: cannot decode compressed payload ({e})") from None


def _as_text(value, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(value)  # a list of lines (APPS/TACO occasionally store stdin this way)
    raise RowError(f"bad_test_spec: {what} is a {type(value).__name__}, expected text")


def _call_args(value, what: str) -> str:
    """APPS/TACO call-based input (a JSON list of arguments) -> newline-separated JSON arguments."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(json.dumps(arg) for arg in value)
    raise RowError(f"bad_test_spec: {what} is a {type(value).__name__}, expected a list of arguments")


def _check_io(spec: dict) -> None:
    inputs, outputs = spec.get("inputs"), spec.get("outputs")
    if not isinstance(inputs, list) or not isinstance(outputs, list):
        raise RowError("bad_test_spec: 'inputs' and 'outputs' must both be lists")
    if len(inputs) != len(outputs):
        raise RowError(f"bad_test_spec: {len(inputs)} inputs but {len(outputs)} outputs")
    if not inputs:
        raise RowError("bad_test_spec: no tests")
    if not all(isinstance(x, str) for x in inputs + outputs):
        raise RowError("bad_test_spec: every input and output must be a string")


def spec_format(spec: dict) -> str:
    if "functional" in spec or "assert_case" in spec:
        return "functional"
    return "call" if spec.get("fn_name") else "stdin"


def count_tests(spec: dict) -> int:
    if spec_format(spec) == "functional":
        snippets = spec.get("functional", spec.get("assert_case"))
        return len(snippets) if isinstance(snippets, list) else 1
    return len(spec["inputs"])


def from_apps_input_output(input_output) -> dict:
    """APPS / TACO ``input_output`` (a JSON string) -> a spec."""
    if isinstance(input_output, str):
        try:
            io_spec = json.loads(input_output) if input_output.strip() else {}
        except json.JSONDecodeError:
            raise RowError("bad_test_spec: input_output is not JSON") from None
    else:
        io_spec = input_output
    if not isinstance(io_spec, dict) or "inputs" not in io_spec or "outputs" not in io_spec:
        raise RowError("bad_test_spec: input_output lacks 'inputs'/'outputs'")
    fn_name = io_spec.get("fn_name")
    if fn_name:
        spec = {
            "inputs": [_call_args(x, f"inputs[{i}]") for i, x in enumerate(io_spec["inputs"])],
            "outputs": [json.dumps(y) for y in io_spec["outputs"]],
            "fn_name": str(fn_name),
        }
    else:
        spec = {
            "inputs": [_as_text(x, f"inputs[{i}]") for i, x in enumerate(io_spec["inputs"])],
            "outputs": [_as_text(y, f"outputs[{i}]") for i, y in enumerate(io_spec["outputs"])],
        }
    _check_io(spec)
    return spec


def from_codecontests(row: dict) -> dict:
    if row.get("input_file") or row.get("output_file"):
        raise RowError("unsupported_test_format: file-based I/O (input_file/output_file)")
    inputs: list[str] = []
    outputs: list[str] = []
    for key in ("public_tests", "private_tests", "generated_tests"):
        tests = row.get(key) or {}
        if not isinstance(tests, dict):
            raise RowError(f"bad_test_spec: {key} is not an {{input, output}} struct")
        ins, outs = tests.get("input") or [], tests.get("output") or []
        if len(ins) != len(outs):
            raise RowError(f"bad_test_spec: {key} has {len(ins)} inputs but {len(outs)} outputs")
        inputs.extend(ins)
        outputs.extend(outs)
    spec = {"inputs": inputs, "outputs": outputs}
    _check_io(spec)
    return spec


def _lcb_cases(value, what: str) -> list:
    if isinstance(value, list):
        return value
    if not isinstance(value, str) or not value.strip():
        return []
    try:
        cases = json.loads(value)
    except json.JSONDecodeError:
        cases = decode_compressed(value)
    if not isinstance(cases, list):
        raise RowError(f"bad_test_spec: {what} is not a list of test cases")
    return cases


def from_livecodebench(row: dict) -> dict:
    cases = _lcb_cases(row.get("public_test_cases"), "public_test_cases")
    cases += _lcb_cases(row.get("private_test_cases"), "private_test_cases")
    if not cases:
        raise RowError("bad_test_spec: no public or private test cases")
    types = {c.get("testtype") if isinstance(c, dict) else None for c in cases}
    if types - {"stdin", "functional"}:
        raise RowError(f"bad_test_spec: unknown testtype(s) {sorted(map(str, types))}")
    spec = {"inputs": [c.get("input") for c in cases], "outputs": [c.get("output") for c in cases]}
    if "functional" in types:
        if types != {"functional"}:
            raise RowError("bad_test_spec: mixes stdin and functional test cases")
        meta = row.get("metadata") or "{}"
        try:
            meta = json.loads(meta) if isinstance(meta, str) else meta
        except json.JSONDecodeError:
            raise RowError("bad_test_spec: metadata is not JSON") from None
        if not isinstance(meta, dict) or not meta.get("func_name"):
            raise RowError("bad_test_spec: functional problem without metadata.func_name")
        spec["fn_name"] = str(meta["func_name"])
    _check_io(spec)
    return spec


def from_klear_ground_truth(ground_truth) -> dict:
    """A Klear ``reward_model.ground_truth`` (JSON string or dict) -> validated spec."""
    if isinstance(ground_truth, str):
        try:
            spec = json.loads(ground_truth)
        except json.JSONDecodeError:
            spec = decode_compressed(ground_truth)
    else:
        spec = ground_truth
    if not isinstance(spec, dict):
        raise RowError("bad_test_spec: ground_truth is not a JSON object")
    for key in _UNSUPPORTED_KEYS:
        if key in spec:
            raise RowError(f"unsupported_test_format: {key}")
    if "functional" in spec or "assert_case" in spec:
        snippets = spec.get("functional", spec.get("assert_case"))
        ok = (
            isinstance(snippets, str)
            and snippets.strip()
            or (
                isinstance(snippets, list)
                and snippets
                and all(isinstance(s, str) and s.strip() for s in snippets)
            )
        )
        if not ok:
            raise RowError("bad_test_spec: functional tests must be a non-empty string or list of strings")
        return {
            k: v for k, v in spec.items() if k in ("functional", "assert_case", "timeout", "max_test_cases")
        }
    if "inputs" not in spec:
        raise RowError(f"bad_test_spec: no known test format among keys {sorted(spec)}")
    out = {
        "inputs": [
            x if isinstance(x, str) else ", ".join(map(str, x)) if isinstance(x, list) else x
            for x in spec["inputs"]
        ],
        "outputs": [
            y if isinstance(y, str) else ", ".join(map(str, y)) if isinstance(y, list) else y
            for y in spec.get("outputs", [])
        ],
    }
    if spec.get("fn_name"):
        out["fn_name"] = str(spec["fn_name"])
    _check_io(out)
    for key in ("timeout", "max_test_cases"):
        if key in spec:
            out[key] = spec[key]
    return out


def with_limits(spec: dict, timeout: int | None, max_test_cases: int | None) -> dict:
    """Add per-problem limits (only where given; an existing value in the source wins)."""
    spec = dict(spec)
    if timeout is not None:
        spec.setdefault("timeout", timeout)
    if max_test_cases is not None:
        spec.setdefault("max_test_cases", max_test_cases)
    return spec


def dumps_spec(spec: dict) -> str:
    # sort_keys/compact separators: the same spec always serialises to the same bytes
    return json.dumps(spec, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))
