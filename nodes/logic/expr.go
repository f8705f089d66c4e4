package logic

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gocomfy/gocomfy/node"
)

// This file parses the expressions of ComfyMathExpression: the subset of
// Python that simpleeval evaluates there, with Python's precedence. The
// syntax tree is a closure tree: parsing never runs anything, evaluating
// never parses.

// expr evaluates to a Python value: bool, int64, float64, nil (None) or
// []any (the values list).
type expr func(env *mathEnv) (any, error)

// token is one lexeme; kind is "num", "name", "op" or "end".
type token struct {
	kind, text string
}

// maxNesting is Python's parser limit on nested brackets; it also bounds
// the parser's recursion.
const maxNesting = 200

// lex splits src into tokens. A newline or ";" outside brackets ends a
// statement ("\n" tokens), as Python's tokenizer does.
func lex(src string) ([]token, error) {
	var toks []token
	depth := 0
	for i := 0; i < len(src); {
		ch := src[i]
		switch {
		case ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f':
			i++
		case ch == '\n' || ch == ';':
			if depth == 0 || ch == ';' {
				toks = append(toks, token{"op", "\n"})
			}
			i++
		case isDigit(ch) || ch == '.' && i+1 < len(src) && isDigit(src[i+1]):
			j := scanNumber(src, i)
			toks = append(toks, token{"num", src[i:j]})
			i = j
		case isNameStart(ch):
			j := i
			for j < len(src) && (isNameStart(src[j]) || isDigit(src[j])) {
				j++
			}
			toks = append(toks, token{"name", src[i:j]})
			i = j
		default:
			op := ""
			for _, o := range []string{"**", "//", "<<", ">>", "<=", ">=", "==", "!=",
				"+", "-", "*", "/", "%", "&", "|", "^", "~", "<", ">", "(", ")", "[", "]", ","} {
				if strings.HasPrefix(src[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				return nil, syntaxError("invalid character %q", src[i:i+1])
			}
			switch op {
			case "(", "[":
				if depth++; depth > maxNesting {
					return nil, syntaxError("too many nested parentheses")
				}
			case ")", "]":
				depth--
			}
			toks = append(toks, token{"op", op})
			i += len(op)
		}
	}
	return append(toks, token{"end", ""}), nil
}

func isDigit(c byte) bool     { return '0' <= c && c <= '9' }
func isNameStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// scanNumber returns the end of the number literal starting at i: digits,
// letters (prefixes, exponents, suffixes: checked by number), underscores,
// dots and an exponent's sign.
func scanNumber(src string, i int) int {
	j := i
	for j < len(src) {
		c := src[j]
		switch {
		case isDigit(c) || isNameStart(c) || c == '.':
			j++
		case (c == '+' || c == '-') && (src[j-1] == 'e' || src[j-1] == 'E') && !strings.HasPrefix(src[i:], "0x") &&
			!strings.HasPrefix(src[i:], "0X"):
			j++
		default:
			return j
		}
	}
	return j
}

// parseNumber parses a Python int or float literal.
func parseNumber(text string) (any, error) {
	bad := syntaxError("invalid number literal %q", text)
	// Underscores must sit between digits (or after a base prefix).
	for i := 0; i < len(text); i++ {
		if text[i] == '_' && (i == 0 || i+1 == len(text) || !isAlnum(text[i-1]) || !isAlnum(text[i+1])) {
			return nil, bad
		}
	}
	clean := strings.ReplaceAll(text, "_", "")
	lower := strings.ToLower(clean)
	if len(lower) > 1 && lower[0] == '0' && strings.ContainsAny(lower[1:2], "xob") {
		n, err := strconv.ParseInt(lower, 0, 64)
		if err != nil {
			return nil, node.Raise("OverflowError", "integer literal %s is too large for this evaluator", text)
		}
		return n, nil
	}
	if !strings.ContainsAny(lower, ".e") {
		for _, c := range []byte(lower) {
			if !isDigit(c) {
				return nil, bad
			}
		}
		if len(lower) > 1 && lower[0] == '0' && strings.Trim(lower, "0") != "" {
			return nil, bad // Python 3 has no 0-prefixed octal
		}
		n, err := strconv.ParseInt(lower, 10, 64)
		if err != nil {
			return nil, node.Raise("OverflowError", "integer literal %s is too large for this evaluator", text)
		}
		return n, nil
	}
	for _, c := range []byte(lower) {
		if !isDigit(c) && c != '.' && c != 'e' && c != '+' && c != '-' {
			return nil, bad
		}
	}
	f, err := strconv.ParseFloat(lower, 64)
	if err != nil && !strings.Contains(err.Error(), "range") {
		return nil, bad
	}
	return f, nil // out of range: ±Inf or 0, as Python
}

func isAlnum(c byte) bool { return isDigit(c) || isNameStart(c) }

func syntaxError(format string, args ...any) error {
	return node.Raise("SyntaxError", format, args...)
}

// parser is a recursive-descent parser over tokens, one method per
// precedence level of Python's grammar.
type parser struct {
	toks []token
	pos  int
}

// parseExpression parses src as simpleeval does: surrounding whitespace
// stripped, every statement must parse, the first is the result.
func parseExpression(src string) (expr, error) {
	toks, err := lex(strings.TrimSpace(src))
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	var first expr
	for {
		for p.accept("\n") {
		}
		if p.peek().kind == "end" {
			break
		}
		e, err := p.ternary()
		if err != nil {
			return nil, err
		}
		if first == nil {
			first = e
		}
		if t := p.peek(); t.kind != "end" && t.text != "\n" {
			return nil, syntaxError("invalid syntax at %q", t.text)
		}
	}
	if first == nil {
		return nil, node.Raise("InvalidExpression", "cannot evaluate empty string")
	}
	return first, nil
}

func (p *parser) peek() token { return p.toks[p.pos] }

// accept consumes the next token if it is the operator or keyword text.
func (p *parser) accept(text string) bool {
	if t := p.peek(); t.kind != "num" && t.kind != "end" && t.text == text {
		p.pos++
		return true
	}
	return false
}

func (p *parser) expect(text string) error {
	if !p.accept(text) {
		return syntaxError("expected %q, got %q", text, p.peek().text)
	}
	return nil
}

// ternary: or_test ["if" or_test "else" ternary].
func (p *parser) ternary() (expr, error) {
	body, err := p.or()
	if err != nil || !p.accept("if") {
		return body, err
	}
	test, err := p.or()
	if err != nil {
		return nil, err
	}
	if err := p.expect("else"); err != nil {
		return nil, err
	}
	orElse, err := p.ternary()
	if err != nil {
		return nil, err
	}
	return func(env *mathEnv) (any, error) {
		t, err := test(env)
		if err != nil {
			return nil, err
		}
		if truth(t) {
			return body(env)
		}
		return orElse(env)
	}, nil
}

// or and and return the deciding operand, as Python does.
func (p *parser) or() (expr, error) { return p.boolOp("or", p.and, true) }

func (p *parser) and() (expr, error) { return p.boolOp("and", p.not, false) }

func (p *parser) boolOp(kw string, next func() (expr, error), stopWhen bool) (expr, error) {
	first, err := next()
	if err != nil {
		return nil, err
	}
	operands := []expr{first}
	for p.accept(kw) {
		e, err := next()
		if err != nil {
			return nil, err
		}
		operands = append(operands, e)
	}
	if len(operands) == 1 {
		return first, nil
	}
	return func(env *mathEnv) (any, error) {
		var v any
		for _, e := range operands {
			var err error
			if v, err = e(env); err != nil || truth(v) == stopWhen {
				return v, err
			}
		}
		return v, nil
	}, nil
}

func (p *parser) not() (expr, error) {
	if !p.accept("not") {
		return p.comparison()
	}
	e, err := p.not()
	if err != nil {
		return nil, err
	}
	return func(env *mathEnv) (any, error) {
		v, err := e(env)
		return !truth(v), err
	}, nil
}

// comparison: a chain like a < b <= c, evaluated left to right and
// stopping at the first false link.
func (p *parser) comparison() (expr, error) {
	first, err := p.binary(0)
	if err != nil {
		return nil, err
	}
	var ops []string
	var rest []expr
	for {
		op := p.peek().text
		switch {
		case p.peek().kind != "op" && p.peek().kind != "name":
			op = ""
		case op == "<" || op == ">" || op == "==" || op == "!=" || op == "<=" || op == ">=" || op == "in":
			p.pos++
		case op == "not" && p.toks[p.pos+1].text == "in":
			p.pos += 2
			op = "not in"
		case op == "is":
			return nil, node.Raise("FeatureNotAvailable", "'is' is not supported")
		default:
			op = ""
		}
		if op == "" {
			break
		}
		e, err := p.binary(0)
		if err != nil {
			return nil, err
		}
		ops, rest = append(ops, op), append(rest, e)
	}
	if len(ops) == 0 {
		return first, nil
	}
	return func(env *mathEnv) (any, error) {
		right, err := first(env)
		if err != nil {
			return nil, err
		}
		for i, op := range ops {
			left := right
			if right, err = rest[i](env); err != nil {
				return nil, err
			}
			ok, err := compare(op, left, right)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	}, nil
}

// binaryLevels lists the binary operators from loosest to tightest.
var binaryLevels = [][]string{{"|"}, {"^"}, {"&"}, {"<<", ">>"}, {"+", "-"}, {"*", "/", "//", "%"}}

// binary parses the left-associative operators of binaryLevels[level:].
func (p *parser) binary(level int) (expr, error) {
	if level == len(binaryLevels) {
		return p.unary()
	}
	left, err := p.binary(level + 1)
	if err != nil {
		return nil, err
	}
	for {
		op := p.peek().text
		if p.peek().kind != "op" || !contains(binaryLevels[level], op) {
			return left, nil
		}
		p.pos++
		right, err := p.binary(level + 1)
		if err != nil {
			return nil, err
		}
		left = binaryExpr(op, left, right)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func binaryExpr(op string, left, right expr) expr {
	return func(env *mathEnv) (any, error) {
		a, err := left(env)
		if err != nil {
			return nil, err
		}
		b, err := right(env)
		if err != nil {
			return nil, err
		}
		return arith(op, a, b)
	}
}

// unary: ("-" | "+" | "~") unary | power.
func (p *parser) unary() (expr, error) {
	op := p.peek().text
	if p.peek().kind != "op" || (op != "-" && op != "+" && op != "~") {
		return p.power()
	}
	p.pos++
	e, err := p.unary()
	if err != nil {
		return nil, err
	}
	return func(env *mathEnv) (any, error) {
		v, err := e(env)
		if err != nil {
			return nil, err
		}
		return unaryOp(op, v)
	}, nil
}

// power: primary ["**" unary]; ** binds tighter than a unary on its left
// and looser than one on its right (-a ** -b is -(a ** (-b))).
func (p *parser) power() (expr, error) {
	base, err := p.primary()
	if err != nil || !(p.peek().kind == "op" && p.accept("**")) {
		return base, err
	}
	exp, err := p.unary()
	if err != nil {
		return nil, err
	}
	return binaryExpr("**", base, exp), nil
}

// primary: atom followed by calls and subscripts.
func (p *parser) primary() (expr, error) {
	t := p.peek()
	var e expr
	switch {
	case t.kind == "num":
		p.pos++
		v, err := parseNumber(t.text)
		if err != nil {
			return nil, err
		}
		e = func(*mathEnv) (any, error) { return v, nil }
	case t.kind == "name" && !keywords[t.text]:
		p.pos++
		if p.peek().kind == "op" && p.peek().text == "(" {
			return p.call(t.text)
		}
		e = nameExpr(t.text)
	case t.kind == "op" && t.text == "(":
		p.pos++
		inner, err := p.ternary()
		if err != nil {
			return nil, err
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		e = inner
	default:
		return nil, syntaxError("invalid syntax at %q", t.text)
	}
	for p.peek().kind == "op" && p.accept("[") {
		index, err := p.ternary()
		if err != nil {
			return nil, err
		}
		if err := p.expect("]"); err != nil {
			return nil, err
		}
		e = subscript(e, index)
	}
	if p.peek().kind == "op" && p.peek().text == "(" {
		return nil, node.Raise("FeatureNotAvailable", "only named functions can be called")
	}
	return e, nil
}

// keywords are the reserved words the grammar uses; True, False and None
// are constants.
var keywords = map[string]bool{"and": true, "or": true, "not": true, "if": true, "else": true, "in": true, "is": true}

func nameExpr(name string) expr {
	switch name {
	case "True":
		return func(*mathEnv) (any, error) { return true, nil }
	case "False":
		return func(*mathEnv) (any, error) { return false, nil }
	case "None":
		return func(*mathEnv) (any, error) { return nil, nil }
	}
	return func(env *mathEnv) (any, error) {
		if v, ok := env.names[name]; ok {
			return v, nil
		}
		return nil, node.Raise("NameNotDefined", "'%s' is not defined", name)
	}
}

// call parses the arguments of a call to the named function.
func (p *parser) call(name string) (expr, error) {
	p.pos++ // "("
	var args []expr
	for !p.accept(")") {
		if len(args) > 0 {
			if err := p.expect(","); err != nil {
				return nil, err
			}
			if p.accept(")") {
				break
			}
		}
		a, err := p.ternary()
		if err != nil {
			return nil, err
		}
		args = append(args, a)
	}
	return func(env *mathEnv) (any, error) {
		fn, ok := mathFunctions[name]
		if !ok {
			return nil, node.Raise("FunctionNotDefined", "Function '%s' not defined", name)
		}
		vals := make([]any, len(args))
		for i, a := range args {
			v, err := a(env)
			if err != nil {
				return nil, err
			}
			vals[i] = v
		}
		return fn(vals)
	}, nil
}

func subscript(container, index expr) expr {
	return func(env *mathEnv) (any, error) {
		c, err := container(env)
		if err != nil {
			return nil, err
		}
		i, err := index(env)
		if err != nil {
			return nil, err
		}
		list, ok := c.([]any)
		if !ok {
			return nil, node.Raise("TypeError", "'%s' object is not subscriptable", typeName(c))
		}
		n, ok := asInt(i)
		if !ok {
			return nil, node.Raise("TypeError", "list indices must be integers, not %s", typeName(i))
		}
		if n < 0 {
			n += int64(len(list))
		}
		if n < 0 || n >= int64(len(list)) {
			return nil, node.Raise("IndexError", "list index out of range")
		}
		return list[n], nil
	}
}

// typeName is Python's type(v).__name__.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case []any:
		return "list"
	}
	return fmt.Sprintf("%T", v)
}
