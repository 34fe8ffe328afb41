"""The math verdict table (>= 200 cases). Each row: response, gold, expected kind, note, and optionally
a data_source / reward kwargs. Expectations are hand-derived from docs/rewards.md ("Math reward"); rows
marked PIN document math-verify 0.9.0 behaviour listed there as a known pitfall, so an upgrade that
changes it fails loudly."""

from __future__ import annotations

from dataclasses import dataclass, field

C, W, N, F, T, E = "correct", "wrong", "no_answer", "format_error", "timeout", "error"


@dataclass(frozen=True)
class Case:
    response: str
    gold: object
    kind: str
    note: str
    data_source: str = "MATH-TTT"
    kwargs: dict = field(default_factory=dict)


def box(x: str, prefix: str = "So the answer is ") -> str:
    return prefix + "\\boxed{" + x + "}"


CASES: list[Case] = []


def add(response, gold, kind, note, **kw):
    CASES.append(Case(response, gold, kind, note, **kw))


# --- integers: string equality / integer fast path (no math-verify) -------------------------------
for g in ["0", "7", "42", "-3", "100", "999", "12345678901234567890", "-0"]:
    add(box(g), g, C, f"integer {g} equal")
add(box("041"), "41", C, "leading zero, integer fast path")
add(box("+7"), "7", C, "explicit plus sign, integer fast path")
add(box("-0"), "0", C, "-0 == 0 on the integer fast path")
add(box("43"), "42", W, "off by one")
add(box("-42"), "42", W, "sign flip")
add(box("4 2"), "42", C, "whitespace-free string equality")
add(box(" 42 "), "42", C, "padded box content")
add(box("420"), "42", W, "extra digit")
add(box("12345678901234567891"), "12345678901234567890", W, "big ints compare exactly")
add(box("9" * 5000), "9", W, "5000-digit integer: no int() (Python's 4300-digit limit)")
add(box("0" + "9" * 5000), "9" * 5000, C, "5000-digit integers with a leading zero")
add(box("7"), 7, C, "int gold")
add(box("27"), 27.0, C, "AMC float gold 27.0 -> '27'")
add(box("27"), "27.0", C, "string gold 27.0 via math-verify")
add(box("7.0"), "7", C, "predicted 7.0 via math-verify")
add(box("7.5"), "7", W, "7.5 != 7")
add(box("1,000"), "1000", C, "PIN: \\boxed{1,000} parses as 1000")
add(box("3,5"), "35", W, "PIN: \\boxed{3,5} is the set {3,5}")
add(box("1000"), "1,000", C, "gold with thousands separator")
add(box("10^3"), "1000", C, "power")
add(box("2^{10}"), "1024", C, "braced power")
add(box("5!"), "120", C, "factorial")
add(box("\\binom{5}{2}"), "10", C, "binomial")
add(box("\\text{13}"), "13", C, "\\text{13} vs 13 (fixed in 0.8.0)")
add(box("**73**"), "73", W, "markdown inside a box is not LaTeX: strict does not rescue it")
add("**Answer:** **73**", "73", C, "markdown emphasis stripped from an anchored value")
add(box("\\pm 2021"), "2021", W, "±2021 vs 2021 is False")
add(box("1011_2"), "1011", C, "PIN: base subscript dropped")
add(box("11"), "1011_2", W, "11 != 1011 (base subscript dropped on gold too)")
# --- fractions, decimals ------------------------------------------------------------------------
add(box("\\frac{1}{2}"), "\\frac{1}{2}", C, "identical fraction")
add(box("\\frac12"), "\\frac{1}{2}", C, "\\frac12 shorthand")
add(box("\\dfrac{1}{2}"), "\\frac{1}{2}", C, "dfrac")
add(box("\\tfrac{1}{2}"), "\\frac{1}{2}", C, "tfrac")
add(box("0.5"), "\\frac{1}{2}", C, "decimal vs fraction")
add(box("1/2"), "\\frac{1}{2}", C, "slash fraction")
add(box("\\frac{2}{4}"), "\\frac{1}{2}", C, "unreduced fraction")
add(box("\\frac{1}{3}"), "\\frac{1}{2}", W, "different fraction")
add(box("0.333"), "\\frac{1}{3}", W, "0.333 is not 1/3 at 6 digits")
add(box("\\frac{-3}{4}"), "-\\frac{3}{4}", C, "sign placement")
add(box("-\\frac{3}{4}"), "\\frac{-3}{4}", C, "sign placement reversed")
add(box("\\frac{3}{4}"), "-\\frac{3}{4}", W, "missing sign")
add(box("0.75"), "\\frac34", C, "0.75 vs 3/4")
add(box("75\\%"), "0.75", W, "PIN: percent is not converted to a fraction")
add(box("1.5"), "\\frac{3}{2}", C, "improper fraction decimal")
add(box("1\\frac{1}{2}"), "\\frac{3}{2}", C, "PIN: mixed number 1 1/2 recognised")
add(box("\\frac{7}{2}"), "3.5", C, "fraction vs decimal gold")
add(box("3.50"), "3.5", C, "trailing zero")
add(box("0.1"), "\\frac{1}{10}", C, "tenth")
add(box("0.10000001"), "0.1", C, "PIN: float_rounding=6 hides the 8th digit")
add(box("\\frac{22}{7}"), "\\pi", W, "22/7 is not pi")
add(box("\\frac{\\sqrt{2}}{2}"), "\\frac{1}{\\sqrt{2}}", C, "rationalised")
add(box("\\frac{\\sqrt{3}}{3}"), "\\frac{1}{\\sqrt3}", C, "rationalised sqrt3")
add(box("\\frac{1}{2004!}"), "\\frac{1}{2006!}", C, "PIN: known false positive, tiny values (MV#14)")
add(box("\\frac{1}{2^{99}}"), "\\frac{1}{2^{98}}", C, "PIN: known false positive, tiny values")
add(box("2/4"), "1/2", C, "slash gold")
add(box("-0.5"), "-\\frac12", C, "negative half")
# --- algebraic / LaTeX expressions ----------------------------------------------------------------
add(box("\\sqrt{2}"), "\\sqrt{2}", C, "identical sqrt")
add(box("\\sqrt2"), "\\sqrt{2}", C, "sqrt shorthand")
add(box("2\\sqrt{3}"), "\\sqrt{12}", C, "simplified radical")
add(box("\\sqrt{12}"), "2\\sqrt{3}", C, "unsimplified radical")
add(box("3\\sqrt{2}"), "2\\sqrt{3}", W, "different radical")
add(box("\\frac{\\pi}{2}"), "\\frac{\\pi}{2}", C, "pi over 2")
add(box("\\pi/2"), "\\frac{\\pi}{2}", C, "pi slash 2")
add(box("0.5\\pi"), "\\frac{\\pi}{2}", C, "0.5 pi")
add(box("90^\\circ"), "\\frac{\\pi}{2}", W, "PIN: 90 degrees is parsed as 90")
add(box("30^\\circ"), "30", C, "PIN: degrees stripped")
add(box("2\\pi"), "2\\pi", C, "2 pi")
add(box("\\pi"), "3.14159", W, "pi vs truncated decimal (6-digit rounding differs)")
add(box("x^2+2x+1"), "(x+1)^2", C, "expanded vs factored")
add(box("(x+1)^2"), "x^2+2x+1", C, "factored vs expanded")
add(box("x^2+2x+2"), "(x+1)^2", W, "different polynomial")
add(box("(x-2)(x+3)"), "x^2+x-6", C, "factored quadratic")
add(box("2x+3"), "3+2x", C, "commuted")
add(box("2y+3"), "2x+3", W, "different variable (strict)")
add(box("e^{2}"), "e^2", C, "exponent braces")
add(box("\\ln 8"), "3\\ln 2", C, "log identity")
add(box("\\log_2 8"), "3", C, "log base 2")
add(box("\\sin^2 x + \\cos^2 x"), "1", C, "trig identity")
add(box("\\frac{a+b}{2}"), "\\frac{b+a}{2}", C, "symbolic fraction")
add(box("\\frac{x}{y}"), "\\frac{y}{x}", W, "swapped fraction")
add(box("i"), "i", C, "imaginary unit")
add(box("3+4i"), "3+4i", C, "complex")
add(box("4i+3"), "3+4i", C, "complex commuted")
add(box("3-4i"), "3+4i", W, "conjugate")
add(box("\\infty"), "\\infty", C, "infinity")
add(box("-\\infty"), "\\infty", W, "minus infinity")
add(
    box("1-\\frac{1}{\\mathrm{e}}"),
    "1+\\frac{1}{\\mathrm{e}}",
    W,
    "MV#14 false positive needs $..$; inside \\boxed{} \\mathrm{e} parses",
)
add(box("4\\sqrt(2)"), "4", W, "MV#41 false positive needs $..$; not on the \\boxed{} path")
add(box("4"), "4\\sqrt(2)", E, "MV#41 reversed: a malformed gold is a bad gold (error), never 4")
add(box("x=5"), "5", C, "equation ending in the gold number")
add(box("5"), "x=5", C, "PIN: gold assignment x=5 accepts 5")
add(box("k = -\\frac{33}{2}"), "k = \\frac{-33}{2}", C, "equation vs equation")
add(box("y=2x+1"), "y=2x+1", C, "line equation identical")
add(box("2x-y+1=0"), "y=2x+1", C, "equivalent line equations")
add(box("y=2x+2"), "y=2x+1", W, "different line")
add(box("\\text{Monday}"), "\\text{Monday}", C, "text answer identical")
add(box("\\text{Tuesday}"), "\\text{Monday}", W, "different text answer")
add(box("\\text{(C)}"), "\\text{(C)}", C, "text letter")
add(box("2,3"), "2, 3", C, "list equal after whitespace removal")
add(box("3, 2"), "2, 3", C, "set-like list order")
add(box("2, 4"), "2, 3", W, "different list")
add(box("\\{1, 2\\}"), "\\{1,2\\}", C, "escaped-brace set")
add(box("(3, -1)"), "(3, -1)", C, "point identical")
add(box("(3,-1)"), "(3, -1)", C, "point whitespace")
add(box("(-1, 3)"), "(3, -1)", W, "point order matters")
add(
    box("\\left( 3, \\frac{\\pi}{2} \\right)"),
    "\\left( 3, \\frac{\\pi}{2} \\right)",
    C,
    "MATH500 polar point",
)
add(box("(3, \\frac{\\pi}{2})"), "\\left( 3, \\frac{\\pi}{2} \\right)", C, "without \\left/\\right")
add(box("(3, \\pi)"), "\\left( 3, \\frac{\\pi}{2} \\right)", W, "wrong angle")
add(box("x \\in [2, 5]"), "[2,5]", C, "membership vs interval")
# --- intervals / inequalities --------------------------------------------------------------------
add(box("(0,1]"), "(0, 1]", C, "half-open interval")
add(box("[0,1]"), "(0, 1]", W, "closed vs half-open")
add(box("(0,1)"), "(0, 1]", W, "open vs half-open")
add(box("[2,\\infty)"), "[2, \\infty)", C, "unbounded interval")
add(box("(2,\\infty)"), "[2, \\infty)", W, "open endpoint")
add(box("(-\\infty, 3) \\cup (4, \\infty)"), "(-\\infty,3)\\cup(4,\\infty)", C, "union")
add(box("(4, \\infty) \\cup (-\\infty, 3)"), "(-\\infty,3)\\cup(4,\\infty)", C, "union commuted")
add(box("(-\\infty, 3] \\cup (4, \\infty)"), "(-\\infty,3)\\cup(4,\\infty)", W, "union with a closed end")
add(box("(1, 2)"), "1 < x < 2", C, "gold inequality accepts a predicted interval")
add(box("1 < x < 2"), "(1, 2)", W, "PIN: asymmetric - predicted inequality vs gold interval")
add(box("x > 3"), "x > 3", C, "inequality identical")
add(box("3 < x"), "x > 3", C, "inequality flipped")
add(box("x \\geq 3"), "x > 3", W, "non-strict vs strict")
add(box("[-2, 2]"), "[-2,2]", C, "symmetric interval")
add(box("\\mathbb{R}"), "(-\\infty, \\infty)", C, "reals vs interval")
# --- matrices / vectors ---------------------------------------------------------------------------
add(
    box("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}"),
    "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}",
    C,
    "column vector",
)
add(
    box("\\begin{pmatrix} 1 \\\\ 3 \\end{pmatrix}"),
    "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}",
    W,
    "different vector",
)
add(
    box("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}"),
    "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}",
    C,
    "2x2 matrix",
)
add(
    box("\\begin{pmatrix} 1 & 3 \\\\ 2 & 4 \\end{pmatrix}"),
    "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}",
    W,
    "transposed",
)
add(
    box("\\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}"),
    "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}",
    C,
    "bmatrix vs pmatrix",
)
add(
    box("\\begin{pmatrix} 0.5 \\\\ 1 \\end{pmatrix}"),
    "\\begin{pmatrix} \\frac{1}{2} \\\\ 1 \\end{pmatrix}",
    C,
    "entries compared numerically",
)
add(
    box("\\begin{pmatrix} 1 & 0 \\\\ 0 & 1 \\end{pmatrix}"),
    "\\begin{pmatrix} 1 & 0 \\\\ 0 & 2 \\end{pmatrix}",
    W,
    "identity vs diag(1,2)",
)
add(
    box("\\begin{pmatrix} 2 \\\\ -1 \\\\ 3 \\end{pmatrix}"),
    "\\begin{pmatrix} 2 \\\\ -1 \\\\ 3 \\end{pmatrix}",
    C,
    "3-vector",
)
add(
    box("\\begin{pmatrix} 2 \\\\ -1 \\end{pmatrix}"),
    "\\begin{pmatrix} 2 \\\\ -1 \\\\ 3 \\end{pmatrix}",
    W,
    "shape mismatch",
)
# --- units, currency, percent --------------------------------------------------------------------
add(box("5\\text{ cm}"), "5", C, "PIN: units stripped")
add(box("5 \\text{ cm}^2"), "5", C, "PIN: squared units stripped")
add(box("6\\text{ cm}"), "5", W, "wrong number with units")
add(box("\\$42"), "42", C, "dollar sign")
add(box("42"), "\\$42", C, "gold with currency")
add(box("\\$42.50"), "42.5", C, "currency decimal")
add(box("2 \\text{ euros}"), "2 \\text{ euros}", C, "identical text units")
add(box("10\\%"), "10\\%", C, "percent identical")
add(box("12\\text{ inches}"), "1\\text{ foot}", W, "unit conversion is not attempted")
add(box("90^{\\circ}"), "90^\\circ", C, "degree spellings")
# --- several boxes, self-correction ---------------------------------------------------------------
add(
    "\\boxed{3}. Hmm, actually I made an error, the answer is \\boxed{5}",
    "5",
    C,
    "strict takes the last box (math-verify would merge {3,5})",
)
add("\\boxed{3} \\boxed{5}", "5", C, "adjacent boxes: last one")
add("\\boxed{3} \\boxed{5}", "3", W, "adjacent boxes: earlier one ignored")
add("first \\boxed{3} then later \\boxed{5}", "5", C, "two boxes far apart")
add("\\boxed{5}. Wait, no: \\boxed{3}", "5", W, "self-correction to a wrong answer")
add("Try \\boxed{1}, \\boxed{2}, \\boxed{3}", "3", C, "three boxes")
add("\\boxed{\\frac{1}{2}} and then \\fbox{7}", "7", C, "\\fbox counts as a box")
add("\\boxed {12}", "12", C, "space before the brace (math-verify misses it)")
add("\\fbox{12}", "12", C, "\\fbox alone")
add("\\boxed{\\frac{\\sqrt{3}}{\\left(2\\right)}}", "\\frac{\\sqrt3}{2}", C, "nested braces")
add("\\boxed{\\{1,2\\}}", "\\{1,2\\}", C, "escaped braces inside a box")
add("\\boxed{3}. Final answer: $7$", "3", C, "box beats the Answer: line")
add(
    "\\boxed{3}. The final answer is $7$. I hope it is correct.",
    "3",
    C,
    "strict: box beats anchors (math-verify would give 7)",
)
add("\\boxed{}", "3", N, "empty box")
add("\\boxed{ }", "3", N, "whitespace box")
# --- anchors fallback -----------------------------------------------------------------------------
add("We get 12 apples.\nAnswer: 12", "12", C, "Answer: line")
add("We get 12 apples.\nanswer: $12$.", "12", C, "answer: with dollars and period")
add("Thus the final answer is 7.", "7", C, "final answer is")
add("The final answer is $\\frac{1}{2}$.", "0.5", C, "final answer is with LaTeX")
add("Answer: 3\nHmm wait.\nAnswer: 4", "4", C, "last anchored line wins")
add("Answer: 3\nHmm wait.\nAnswer: 4", "3", W, "earlier anchored line ignored")
add("FINAL ANSWER IS 9", "9", C, "case-insensitive anchor")
add("Answer:", "9", N, "empty anchor")
add("The answer is 9", "9", N, "'answer is' without 'final' is not an anchor")
add(
    "Let's compute 2+2 = 4, then multiply by 3", "3", N, "no unanchored last number (math-verify would say 3)"
)
add("The roots are 3,5", "3.5", N, "no unanchored fallback (math-verify would read 3.5)")
add("x = 0,5", "0.5", N, "no unanchored fallback")
add("$\\frac{1}{2}$", "\\frac12", N, "bare LaTeX is not an anchor in strict mode")
add("", "1", N, "empty response")
# --- truncated outputs ----------------------------------------------------------------------------
add("so the answer is \\boxed{\\frac{1}{2}", "\\frac12", N, "unclosed box: truncated")
add("\\boxed{3} but then \\boxed{\\frac{1}{", "3", N, "unclosed box after a complete one: truncated")
add("\\boxed{3} and the computation continues " + "x" * 2000, "3", C, "long tail after a complete box")
add("Step 1: 2+2=4. Step 2: 4*3=12. Step 3", "12", N, "truncated mid-reasoning, no answer")
add("The final answer is", "12", N, "anchor without value")
add("\\boxed{1}" + " lots of text" * 500 + "\\boxed{2", "1", N, "long response truncated in a box")
# --- think handling (data_source defaults: Klear names -> require_both + klear profile) ------------
K = "math_longcot_math_verify"
add("<think>maybe \\boxed{3}</think>The answer is \\boxed{5}", "5", C, "answer after </think>", data_source=K)
add(
    "<think>maybe \\boxed{5}</think>The answer is \\boxed{3}",
    "5",
    W,
    "box inside think is ignored",
    data_source=K,
)
add("<think>\\boxed{5}</think>No box here.", "5", N, "only box inside think: no answer", data_source=K)
add("<think>a</think>b</think>\\boxed{5}", "5", C, "cut at the LAST </think>", data_source=K)
add(
    "<think>a</think>\\boxed{5}</think>\\boxed{6}", "6", C, "two </think>: text after the last", data_source=K
)
add(
    "<think>a</think>\\boxed{5}</think>\\boxed{6}", "5", W, "two </think>: earlier box ignored", data_source=K
)
add("<think>long reasoning \\boxed{5}", "5", F, "missing </think> (truncated): -0.5", data_source=K)
add("reasoning</think>\\boxed{5}", "5", F, "missing <think>: -2", data_source=K)
add("\\boxed{5}", "5", F, "no think tags at all under require_both", data_source=K)
add("<think>x</think>\\boxed{5}", "5", C, "Klear aime alias", data_source="math_longcot_math_verify_aime2024")
add(
    "<think>x</think>\\boxed{5}",
    "5",
    C,
    "think_mode none on a Klear name",
    data_source=K,
    kwargs={"think_mode": "none"},
)
add("\\boxed{5}", "5", C, "think_mode none, no tags", data_source=K, kwargs={"think_mode": "none"})
add(
    "<think>\\boxed{5}",
    "5",
    C,
    "none mode: no </think>, the whole response (box inside an unclosed think counts)",
    kwargs={"think_mode": "none"},
)
add(
    "reasoning \\boxed{4}</think>\\boxed{5}",
    "5",
    C,
    "prompt_opens_think: text after </think>",
    kwargs={"think_mode": "prompt_opens_think"},
)
add(
    "reasoning \\boxed{5}",
    "5",
    F,
    "prompt_opens_think: missing </think>",
    kwargs={"think_mode": "prompt_opens_think"},
)
add("<think>r</think>\\boxed{5}", "5", C, "g2rl name with think tags cuts at </think>")
add("<think>\\boxed{5}</think>", "5", N, "g2rl name: box only inside think")
add("<think>r</think>\\boxed{5}", "5", C, "explicit binary profile", kwargs={"profile": "binary"})
add("<think>r</think>\\boxed{6}", "5", W, "binary wrong scores 0", kwargs={"profile": "binary"})
add("\\boxed{6}", "5", W, "klear profile on a G2RL name", kwargs={"profile": "klear"})
add("<think>r</think>\\boxed{5}", "5", C, "verl name lighteval/MATH", data_source="lighteval/MATH")
add("<think>r</think>\\boxed{5}", "5", C, "verl aime prefix", data_source="aime24")
add("<think>r</think>\\boxed{5}", "5", C, "numina prefix", data_source="numina_olympiads")
# --- mathverify extraction mode (Klear-compatible) -------------------------------------------------
MV = {"extraction": "mathverify"}
add("\\boxed{5}", "5", C, "mathverify: boxed", kwargs=MV)
add("The result is $\\frac{1}{2}$", "0.5", C, "mathverify: unanchored LaTeX accepted", kwargs=MV)
add("Let's compute 2+2 = 4, then multiply by 3", "3", C, "PIN mathverify: unanchored last number", kwargs=MV)
add(
    "\\boxed{3}. Hmm, actually I made an error, the answer is \\boxed{5}",
    "5",
    W,
    "PIN mathverify: adjacent boxes merged into {3,5}",
    kwargs=MV,
)
add(
    "\\boxed{3}. The final answer is $7$. I hope it is correct.",
    "7",
    C,
    "PIN mathverify: priority-0 anchor beats box",
    kwargs=MV,
)
add("no math here at all", "5", N, "mathverify: nothing extracted", kwargs=MV)
add("\\boxed {12}", "12", N, "PIN mathverify: space before brace not extracted", kwargs=MV)
add("<think>\\boxed{5}</think>\\boxed{4}", "4", C, "mathverify still cuts at </think>", kwargs=MV)
add("so \\boxed{\\frac{1}{2}", "\\frac{1}{2}", C, "PIN mathverify: unclosed box still parsed", kwargs=MV)
add(
    "so $1-\\frac{1}{\\mathrm{e}}$",
    "1+\\frac{1}{\\mathrm{e}}",
    W,
    "mathverify mode with a boxed gold: no MV#14 false positive",
    kwargs=MV,
)
add(
    "so $4\\sqrt(2)$",
    "4",
    C,
    "PIN mathverify: MV#41 false positive, malformed 4\\sqrt(2) accepted",
    kwargs=MV,
)
# --- inputs known to hang math-verify (must return within the deadline). The golds are fine, so the
# timeout is the candidate's: kind=timeout, scored wrong, valid=1 (checked in test_math_table) ----------
TOWER = "\\dfrac{5^{(5^{(5^{(5^5)})} - 4)} - 5}{16}"
add(box(TOWER), "3", T, "power tower: verify times out (MV#65), never stringified")
add(box(TOWER), TOWER, C, "power tower identical: string equality, math-verify not called")
add("The final answer is " + TOWER, "7", T, "power tower via anchor")
add(box("9^{9^{9^{9}}}"), "1", T, "huge power")
