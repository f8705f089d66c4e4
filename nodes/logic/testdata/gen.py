#!/usr/bin/env python3
"""Regenerates object_info/ComfyMathExpression.json and
golden/ComfyMathExpression.json from ComfyUI's own comfy_extras/nodes_math.py
and the simpleeval it imports.

    /usr/bin/python3 nodes/logic/testdata/gen.py

It uses nodes/imagenode/testdata/gen.py to load ComfyUI v0.27.0 from the git
mirror (see there), and simpleeval 1.0.7 from its git mirror (not packaged
for Debian). The other object_info files of this package predate this script.

golden/ComfyMathExpression.json holds cases: the expression and values, and
the node's outputs [FLOAT, INT, BOOL], or "error" when ComfyUI raises.
"""
import importlib.util
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SIMPLEEVAL = "/work/.mirror/danthedeckie+simpleeval/repo"
SIMPLEEVAL_REV = "ea3d6d0"  # 1.0.7

_spec = importlib.util.spec_from_file_location("comfygen", os.path.join(HERE, "../../imagenode/testdata/gen.py"))
g = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(g)


def load_simpleeval():
    src = tempfile.mkdtemp()
    code = subprocess.run(["git", "-C", SIMPLEEVAL, "show", SIMPLEEVAL_REV + ":simpleeval.py"],
                          check=True, capture_output=True).stdout
    with open(os.path.join(src, "simpleeval.py"), "wb") as f:
        f.write(code)
    sys.path.insert(0, src)


def case(name, expression, tol=0.0, **values):
    return g.case(name, tol, expression=expression, **{"values." + k: v for k, v in values.items()})


CASES = {"ComfyMathExpression": [
    case("default", "a + b", a=1, b=2),
    case("float and int", "a * b - 0.5", a=1.5, b=3),
    case("true division", "a / b", a=7, b=2),
    case("floor division and modulo", "a // b + a % b", a=-7, b=2),
    case("float floor division", "a // b", a=-7.5, b=2),
    case("float modulo", "a % b", a=-7.5, b=2),
    case("power", "a ** b", a=2, b=10),
    case("negative power", "a ** -b", a=2, b=2),
    case("power right assoc", "2 ** 3 ** 2", a=0),
    case("unary minus and power", "-a ** 2", a=3),
    case("precedence", "1 + 2 * 3 - 4 / 2", a=0),
    case("parentheses", "(1 + 2) * 3", a=0),
    case("comparison", "a < b", a=1, b=2),
    case("chained comparison", "1 < a <= 3 != b", a=3, b=4),
    case("bool result", "a == b", a=2, b=2.0),
    case("and or", "a and b or 7", a=0, b=5),
    case("not", "not a", a=0),
    case("ternary", "a if a > b else b", a=3, b=8.5),
    case("bool inputs", "a + b", a=True, b=True),
    case("bit operators", "(a & 12) | (a ^ 3) << 2 >> 1", a=10),
    case("invert", "~a", a=5),
    case("values list", "sum(values) / len(values)", a=1, b=2),
    case("sum of values", "sum(values)", a=1, b=2.5, c=3),
    case("sum of args", "sum(a, b, 1)", a=1, b=2),
    case("min max", "max(a, b, 3) - min(values)", a=1, b=-2),
    case("abs", "abs(a)", a=-2.5),
    case("round half even", "round(a) + round(b)", a=2.5, b=3.5),
    case("round digits", "round(a, 2)", a=2.675),
    case("pow", "pow(a, 0.5)", a=9),
    case("pow too large", "pow(a, 5000)", a=2),
    case("sqrt", "sqrt(a)", a=2),
    case("sqrt negative", "sqrt(a)", a=-1),
    case("ceil floor", "ceil(a) * 10 + floor(-a)", a=2.1),
    case("logs", "log(a) + log2(a) + log10(a) + log(a, 3)", 1e-15, a=8),
    case("log zero", "log(a)", a=0),
    case("trig", "sin(a) + cos(a) * tan(a)", 1e-15, a=0.5),
    case("int float", "int(a) + float(b)", a=-2.7, b=3),
    case("subscript", "values[1] * 2", a=1, b=4),
    case("in", "a in values", a=1, b=4),
    case("true constant", "True + a", a=1),
    case("scientific literal", "1e3 + 0x10 + 1_000", a=0),
    case("truncated int output", "a / 3", a=-10),
    case("division by zero", "a / b", a=1, b=0),
    case("modulo by zero", "a % b", a=1, b=0.0),
    case("empty", "  ", a=1),
    case("unknown name", "a + z", a=1),
    case("unknown function", "exp(a)", a=1),
    case("syntax error", "a +", a=1),
    case("string result", "'x'", a=1),
    case("none result", "None", a=1),
    case("infinite", "a * 1e308 * 10", a=1.0),
    case("negative zero floor division", "-0.0 // a", a=3),
    case("multiple statements", "a + 1\nb", a=1, b=2),
    case("newline in brackets", "(a +\n 1)", a=1),
    case("min first of equals", "min(a, b) / 2", a=2, b=2.0),
    case("index out of range", "values[2]", a=1, b=2),
    case("negative index", "values[-1]", a=1, b=2),
    case("octal literal fails", "010", a=1),
    case("complex power fails", "a ** 0.5", a=-4),
    case("huge int to float fails", "a ** 400000 * a ** 400000", a=10),
    case("power limit", "a ** 5000000", a=2),
    case("nan", "a * 10 - a * 10", a=1e308),
]}

if __name__ == "__main__":
    load_simpleeval()
    classes, display = g.setup([], {"comfy_extras.nodes_math": ["ComfyMathExpression"]})
    g.write(HERE, classes, display, [], CASES)
