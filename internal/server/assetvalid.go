package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gocomfy/gocomfy/internal/asset"
	"github.com/gocomfy/gocomfy/pyfmt"
	"github.com/gocomfy/gocomfy/pyjson"
)

// validation collects the errors of a request's fields in the shape of
// pydantic's, which ComfyUI's assets API returns as details.errors: type,
// loc, msg, input, ctx (when any), url.
type validation struct {
	errs []any
}

func (v *validation) ok() bool { return len(v.errs) == 0 }

// add records an error of the field loc ("" for the whole model).
func (v *validation) add(typ, loc, msg string, input any, ctx pyjson.Object) {
	l := []string{}
	if loc != "" {
		l = append(l, loc)
	}
	e := pyjson.Object{{Key: "type", Value: typ}, {Key: "loc", Value: l}, {Key: "msg", Value: msg}, {Key: "input", Value: input}}
	if ctx != nil {
		e = append(e, pyjson.Field{Key: "ctx", Value: ctx})
	}
	v.errs = append(v.errs, append(e, pyjson.Field{Key: "url", Value: "https://errors.pydantic.dev/2.11/v/" + typ}))
}

// model records an error of a model validator.
func (v *validation) model(msg string, input any) {
	v.add("value_error", "", msg, input, pyjson.Object{{Key: "error", Value: pyjson.Object{}}})
}

// err is the 400 that reports the errors.
func (v *validation) err(code, message string) error {
	return assetError(http.StatusBadRequest, code, message, pyjson.Object{{Key: "errors", Value: v.errs}})
}

// raw decodes a JSON value for an error's input.
func raw(b json.RawMessage) any {
	var x any
	json.Unmarshal(b, &x)
	return x
}

// optString reads an optional string field of a JSON body (null is
// absent).
func (v *validation) optString(body map[string]json.RawMessage, key string) *string {
	b, ok := body[key]
	if !ok || string(b) == "null" {
		return nil
	}
	var s string
	if json.Unmarshal(b, &s) != nil {
		v.add("string_type", key, "Input should be a valid string", raw(b), nil)
		return nil
	}
	return &s
}

// optObject reads an optional JSON object field (null is absent).
func (v *validation) optObject(body map[string]json.RawMessage, key string) json.RawMessage {
	b, ok := body[key]
	if !ok || string(b) == "null" {
		return nil
	}
	if _, err := pyjson.DecodeObject(b); err != nil {
		v.add("dict_type", key, "Input should be a valid dictionary", raw(b), nil)
		return nil
	}
	return b
}

// hash reads the required "hash" field of from-hash.
func (v *validation) hash(body map[string]json.RawMessage) string {
	b, ok := body["hash"]
	if !ok {
		v.add("missing", "hash", "Field required", body, nil)
		return ""
	}
	var s string
	if json.Unmarshal(b, &s) != nil {
		v.add("string_type", "hash", "Input should be a valid string", raw(b), nil)
		return ""
	}
	h, err := asset.ParseHash(s)
	if err != nil {
		v.add("value_error", "hash", "Value error, "+err.Error(), s, pyjson.Object{{Key: "error", Value: pyjson.Object{}}})
	}
	return h
}

// tags reads the tags of from-hash: a list (each value as Python's str)
// or a comma-separated string, normalised; anything else is no tags.
func (v *validation) tags(body map[string]json.RawMessage, key string) []string {
	var list []any
	if decodeNumbers(body[key], &list) == nil {
		tags := make([]string, len(list))
		for i, x := range list {
			tags[i] = pyfmt.Str(x)
		}
		return asset.NormalizeTags(tags)
	}
	var s string
	if json.Unmarshal(body[key], &s) == nil {
		return asset.NormalizeTags(strings.Split(s, ","))
	}
	return []string{}
}

// tagList reads the required, non-empty list of strings of a tags change,
// normalised.
func (v *validation) tagList(body map[string]json.RawMessage) []string {
	b, ok := body["tags"]
	if !ok {
		v.add("missing", "tags", "Field required", body, nil)
		return nil
	}
	var items []json.RawMessage
	if json.Unmarshal(b, &items) != nil {
		v.add("list_type", "tags", "Input should be a valid list", raw(b), nil)
		return nil
	}
	if len(items) == 0 {
		v.add("too_short", "tags", "List should have at least 1 item after validation, not 0", []any{},
			pyjson.Object{{Key: "field_type", Value: "List"}, {Key: "min_length", Value: 1}, {Key: "actual_length", Value: 0}})
		return nil
	}
	tags := make([]string, 0, len(items))
	for i, item := range items {
		var s string
		if json.Unmarshal(item, &s) != nil {
			v.errs = append(v.errs, pyjson.Object{{Key: "type", Value: "string_type"}, {Key: "loc", Value: []any{"tags", i}},
				{Key: "msg", Value: "Input should be a valid string"}, {Key: "input", Value: raw(item)},
				{Key: "url", Value: "https://errors.pydantic.dev/2.11/v/string_type"}})
			continue
		}
		tags = append(tags, s)
	}
	return asset.NormalizeTags(tags)
}

// queryString reads a string parameter; a repeated one is a list, which
// is no string.
func (v *validation) queryString(q url.Values, key string) string {
	switch vals := q[key]; len(vals) {
	case 0:
		return ""
	case 1:
		return vals[0]
	default:
		v.add("string_type", key, "Input should be a valid string", vals, nil)
		return ""
	}
}

// queryInt reads an integer parameter in [lo, hi] (hi < 0: no bound).
func (v *validation) queryInt(q url.Values, key string, def, lo, hi int) int {
	if !q.Has(key) {
		return def
	}
	s := v.queryString(q, key)
	if !v.ok() && len(q[key]) > 1 {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	switch {
	case err != nil:
		v.add("int_parsing", key, "Input should be a valid integer, unable to parse string as an integer", s, nil)
	case n < lo:
		v.add("greater_than_equal", key, "Input should be greater than or equal to "+strconv.Itoa(lo), s, pyjson.Object{{Key: "ge", Value: lo}})
	case hi >= 0 && n > hi:
		v.add("less_than_equal", key, "Input should be less than or equal to "+strconv.Itoa(hi), s, pyjson.Object{{Key: "le", Value: hi}})
	default:
		return n
	}
	return def
}

// queryChoice reads a parameter that must be one of choices.
func (v *validation) queryChoice(q url.Values, key, def string, choices ...string) string {
	if !q.Has(key) {
		return def
	}
	s := v.queryString(q, key)
	for _, c := range choices {
		if s == c {
			return s
		}
	}
	quoted := make([]string, len(choices))
	for i, c := range choices {
		quoted[i] = "'" + c + "'"
	}
	expected := strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
	v.add("literal_error", key, "Input should be "+expected, s, pyjson.Object{{Key: "expected", Value: expected}})
	return def
}

// queryBool reads a boolean parameter as pydantic does.
func (v *validation) queryBool(q url.Values, key string, def bool) bool {
	if !q.Has(key) {
		return def
	}
	s := v.queryString(q, key)
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "t", "yes", "y", "on":
		return true
	case "0", "false", "f", "no", "n", "off":
		return false
	}
	v.add("bool_parsing", key, "Input should be a valid boolean, unable to interpret input", s, nil)
	return def
}
