"""Code test specifications: decoding, validation and deterministic subsetting (docs/rewards.md, "Code
reward: test specifications" and "Test subsetting").

Accepted `ground_truth` shapes (a dict, a JSON string, or a compressed string):
- stdin/stdout `{"inputs": [str], "outputs": [str]}`;
- call-based `{"inputs", "outputs", "fn_name"}`: LiveCodeBench strings (one JSON value per line and
  argument) or APPS/TACO lists of arguments, which are rewritten to the LiveCodeBench string form;
- Klear functional `{"functional": str | [str]}` and verl's alias `{"assert_case": [str]}`;
- any of the above plus Klear's optional `"timeout"` (per-test seconds) and `"max_test_cases"`;
- verl-recipe r1 / LiveCodeBench compressed payloads: base64 -> zlib -> pickle -> JSON string, decoded
  by `RestrictedUnpickler`, whose `find_class` always raises (no global, class or callable can ever be
  resolved, so a malicious payload cannot execute anything), with a cap on the decompressed size.
Klear's `pytest` / `inputs_file` formats are unsupported. Every problem raises `BadTestSpec` with the
reason; the verifier turns it into `error/bad_test_spec` (never 1.0, never a silent 0).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import pickle
import zlib
from dataclasses import dataclass

DEFAULT_MAX_DECOMPRESSED_BYTES = 256 << 20
UNSUPPORTED_KEYS = ("pytest", "inputs_file", "outputs_file")
_PRIMITIVES = (str, bytes, int, float, bool, type(None))


class BadTestSpec(ValueError):
    """The test specification cannot be scored. `detail` is the verdict detail."""

    def __init__(self, message: str, detail: str = "bad_test_spec") -> None:
        super().__init__(message)
        self.detail = detail


@dataclass(frozen=True)
class CodeTests:
    """A validated test spec. `kind` is stdio | call | functional; `cases` are the test units
    (stdio/call: (input, expected output) pairs; functional: (snippet, None))."""

    kind: str
    cases: tuple[tuple[str, str | None], ...]
    fn_name: str | None
    timeout_s: float | None
    max_test_cases: int | None
    problem_key: str  # sha256 of the canonical JSON of the decoded spec

    def sandbox_spec(self, indices: list[int]) -> dict:
        """The dict `sandbox.TestSpec.from_dict` accepts, restricted to `indices`."""
        if self.kind == "functional":
            return {"functional": [self.cases[i][0] for i in indices]}
        spec = {"inputs": [self.cases[i][0] for i in indices], "outputs": [self.cases[i][1] for i in indices]}
        if self.fn_name is not None:
            spec["fn_name"] = self.fn_name
        return spec


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that can only rebuild primitive containers: resolving ANY global raises."""

    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"global {module}.{name} is forbidden in a test-spec payload")

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("persistent ids are forbidden in a test-spec payload")


def _check_primitive_tree(value: object, depth: int = 0) -> None:
    if depth > 64:
        raise BadTestSpec("compressed payload nests deeper than 64 levels")
    if isinstance(value, _PRIMITIVES):
        return
    if isinstance(value, (list, tuple)):
        for item in value:
            _check_primitive_tree(item, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _check_primitive_tree(key, depth + 1)
            _check_primitive_tree(item, depth + 1)
        return
    raise BadTestSpec(f"compressed payload holds a {type(value).__name__}; only primitive values are allowed")


def decode_compressed(payload: str, max_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES) -> object:
    """base64 -> zlib (capped) -> restricted pickle -> JSON if the result is a str."""
    try:
        raw = base64.b64decode(payload.encode("ascii"), validate=True)  # junk characters are an error, not skipped
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise BadTestSpec(f"ground_truth is neither JSON nor base64: {type(exc).__name__}") from None
    decompressor = zlib.decompressobj()
    try:
        data = decompressor.decompress(raw, max_bytes)
    except zlib.error as exc:
        raise BadTestSpec(f"ground_truth is neither JSON nor a zlib payload: {exc}") from None
    if decompressor.unconsumed_tail:
        raise BadTestSpec(f"compressed test spec exceeds the {max_bytes}-byte cap (zip bomb guard)")
    try:
        value = RestrictedUnpickler(io.BytesIO(data)).load()
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
    ) as exc:
        raise BadTestSpec(f"rejected pickle payload: {exc}") from None
    _check_primitive_tree(value)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise BadTestSpec(f"decompressed test spec is not JSON: {exc}") from None
    return value


def load_spec_object(ground_truth: object, max_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES) -> dict:
    if isinstance(ground_truth, dict):
        spec = ground_truth
    elif isinstance(ground_truth, str):
        text = ground_truth.strip()
        if not text:
            raise BadTestSpec("ground_truth is an empty string")
        if text[0] in "{[":
            try:
                spec = json.loads(text)
            except json.JSONDecodeError as exc:
                raise BadTestSpec(f"ground_truth is not valid JSON: {exc}") from None
        else:
            spec = decode_compressed(text, max_bytes)
    else:
        raise BadTestSpec(f"ground_truth must be a dict or a string, got {type(ground_truth).__name__}")
    if isinstance(spec, list):
        spec = _from_lcb_records(spec)
    if not isinstance(spec, dict):
        raise BadTestSpec(f"test spec must be a JSON object, got {type(spec).__name__}")
    return spec


def _from_lcb_records(records: list) -> dict:
    """LiveCodeBench test records [{input, output, testtype}] -> stdin/stdout spec. Functional records
    need `metadata.func_name`, which only data-prep has, so they are refused here."""
    if not records or not all(isinstance(r, dict) and {"input", "output"} <= r.keys() for r in records):
        raise BadTestSpec("a test-spec list must hold LiveCodeBench records {input, output, testtype}")
    if any(r.get("testtype", "stdin") != "stdin" for r in records):
        raise BadTestSpec(
            "functional LiveCodeBench records need fn_name from the problem metadata: convert them at "
            "data-prep into {inputs, outputs, fn_name}"
        )
    return {"inputs": [r["input"] for r in records], "outputs": [r["output"] for r in records]}


def _as_call_input(value: object) -> str:
    """APPS/TACO argument list -> LiveCodeBench form (one JSON value per line, one line per argument)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return "\n".join(json.dumps(arg) for arg in value)
    raise BadTestSpec(f"call-based input must be a string or a list of arguments, got {type(value).__name__}")


def _string_list(spec: dict, key: str) -> list:
    value = spec.get(key)
    if not isinstance(value, list):
        raise BadTestSpec(f"test spec key {key!r} must be a list, got {type(value).__name__}")
    if not value:
        raise BadTestSpec(f"test spec key {key!r} is empty (a spec without tests can never be scored)")
    return value


def _optional_positive(spec: dict, key: str, kind: type) -> float | int | None:
    value = spec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise BadTestSpec(f"test spec key {key!r} must be a positive number, got {value!r}")
    return kind(value)


def join_list_entries(values: list) -> list:
    """Klear's rule for list-valued stdin/stdout entries: `", ".join(map(str, entry))`."""
    return [", ".join(map(str, v)) if isinstance(v, list) else v for v in values]


def parse_test_spec(
    ground_truth: object, max_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES, join_lists: bool = False
) -> CodeTests:
    """Decode and validate a spec. `join_lists` applies Klear's ", " join to list-valued stdin/stdout
    entries (the `klear` profile); otherwise such entries are a bad spec (data_prep normalises them)."""
    spec = load_spec_object(ground_truth, max_bytes)
    unsupported = [k for k in UNSUPPORTED_KEYS if k in spec]
    if unsupported:
        raise BadTestSpec(f"test format {unsupported} is not supported", detail="unsupported_test_format")
    timeout_s = _optional_positive(spec, "timeout", float)
    max_test_cases = _optional_positive(spec, "max_test_cases", int)
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    problem_key = hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()

    snippets = spec.get("functional", spec.get("assert_case"))
    if snippets is not None:
        if isinstance(snippets, str):
            snippets = [snippets]
        if not isinstance(snippets, list) or not snippets:
            raise BadTestSpec("'functional' / 'assert_case' must be a non-empty string or list of strings")
        if not all(isinstance(s, str) and s.strip() for s in snippets):
            raise BadTestSpec("every functional test snippet must be a non-empty string")
        cases = tuple((s, None) for s in snippets)
        return CodeTests("functional", cases, None, timeout_s, max_test_cases, problem_key)

    if "inputs" not in spec or "outputs" not in spec:
        raise BadTestSpec(
            f"test spec has none of inputs/outputs, functional, assert_case (keys: {sorted(spec)[:10]})"
        )
    inputs, outputs = _string_list(spec, "inputs"), _string_list(spec, "outputs")
    if len(inputs) != len(outputs):
        raise BadTestSpec(f"{len(inputs)} inputs but {len(outputs)} outputs")
    fn_name = spec.get("fn_name")
    if fn_name is not None:
        if not isinstance(fn_name, str) or not fn_name.isidentifier():
            raise BadTestSpec(f"fn_name must be a Python identifier, got {fn_name!r}")
        cases = tuple(
            (_as_call_input(i), o if isinstance(o, str) else json.dumps(o)) for i, o in zip(inputs, outputs)
        )
        return CodeTests("call", cases, fn_name, timeout_s, max_test_cases, problem_key)
    if join_lists:
        inputs, outputs = join_list_entries(inputs), join_list_entries(outputs)
    if not all(isinstance(i, str) for i in inputs) or not all(isinstance(o, str) for o in outputs):
        raise BadTestSpec(
            "stdin/stdout inputs and outputs must be strings (data-prep normalises lists; the klear profile "
            "joins list entries with ', ' as Klear does)"
        )
    return CodeTests("stdio", tuple(zip(inputs, outputs)), None, timeout_s, max_test_cases, problem_key)


def select_tests(n_tests: int, k: int | None, problem_key: str, salt: str = "") -> list[int]:
    """Deterministic subset: the k indices with the smallest sha256(problem_key:index:salt), in index order.

    The same problem always gets the same subset across workers, epochs and runs (the reference drew a
    fresh `random.sample` per evaluation, so one response could get different rewards)."""
    if k is None or n_tests <= k:
        return list(range(n_tests))

    def rank(index: int) -> str:
        return hashlib.sha256(f"{problem_key}:{index}:{salt}".encode()).hexdigest()

    return sorted(sorted(range(n_tests), key=rank)[:k])
