package webhook

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// The example of the Standard Webhooks reference libraries.
const (
	exampleSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	exampleID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	exampleBody   = `{"test": 2432232314}`
	exampleSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

var exampleTime = time.Unix(1614265330, 0)

func TestSignReferenceExample(t *testing.T) {
	s, err := ParseSecret(exampleSecret)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Sign(exampleID, exampleTime, []byte(exampleBody)); got != exampleSig {
		t.Errorf("Sign = %s, want %s", got, exampleSig)
	}
	if s.String() != exampleSecret {
		t.Errorf("String = %s", s)
	}
}

func TestParseSecret(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{exampleSecret, true},
		{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", true}, // without the prefix
		{NewSecret(), true},
		{"whsec_", false},
		{"whsec_c2hvcnQ=", false}, // 5 bytes
		{"whsec_not base64!", false},
		{"whsec_" + string(make([]byte, 100)), false},
	} {
		if _, err := ParseSecret(tc.in); (err == nil) != tc.ok {
			t.Errorf("ParseSecret(%q): %v", tc.in, err)
		}
	}
}

func TestVerify(t *testing.T) {
	s, _ := ParseSecret(exampleSecret)
	other, _ := ParseSecret(NewSecret())
	header := func(id, ts, sig string) http.Header {
		return http.Header{"Webhook-Id": {id}, "Webhook-Timestamp": {ts}, "Webhook-Signature": {sig}}
	}
	for _, tc := range []struct {
		name   string
		secret Secret
		h      http.Header
		body   string
		now    time.Time
		ok     bool
	}{
		{"valid", s, header(exampleID, "1614265330", exampleSig), exampleBody, exampleTime, true},
		{"among others", s, header(exampleID, "1614265330", "v2,xyz v1,bm90IGl0 "+exampleSig), exampleBody, exampleTime, true},
		{"within tolerance", s, header(exampleID, "1614265330", exampleSig), exampleBody, exampleTime.Add(4 * time.Minute), true},
		{"too old", s, header(exampleID, "1614265330", exampleSig), exampleBody, exampleTime.Add(6 * time.Minute), false},
		{"too new", s, header(exampleID, "1614265330", exampleSig), exampleBody, exampleTime.Add(-6 * time.Minute), false},
		{"tampered body", s, header(exampleID, "1614265330", exampleSig), `{"test": 1}`, exampleTime, false},
		{"other id", s, header("msg_other", "1614265330", exampleSig), exampleBody, exampleTime, false},
		{"other secret", other, header(exampleID, "1614265330", exampleSig), exampleBody, exampleTime, false},
		{"no version", s, header(exampleID, "1614265330", exampleSig[3:]), exampleBody, exampleTime, false},
		{"bad timestamp", s, header(exampleID, "soon", exampleSig), exampleBody, exampleTime, false},
		{"no id", s, header("", "1614265330", exampleSig), exampleBody, exampleTime, false},
	} {
		err := tc.secret.Verify(tc.h, []byte(tc.body), tc.now, 5*time.Minute)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrSignature)) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// FuzzVerify feeds receivers' header parsing arbitrary headers: it must
// not panic, and only the true signature verifies.
func FuzzVerify(f *testing.F) {
	f.Add(exampleID, "1614265330", exampleSig, exampleBody)
	f.Add("", "-1", "v1, v1,,", "")
	f.Add("x", "99999999999999999999", "v1,====", "{}")
	s, _ := ParseSecret(exampleSecret)
	f.Fuzz(func(t *testing.T, id, ts, sig, body string) {
		h := http.Header{"Webhook-Id": {id}, "Webhook-Timestamp": {ts}, "Webhook-Signature": {sig}}
		if s.Verify(h, []byte(body), exampleTime, time.Minute) == nil && ts == "1614265330" {
			if want := s.Sign(id, exampleTime, []byte(body)); !slices.Contains(strings.Fields(sig), want) {
				t.Errorf("verified %q without its signature %s", sig, want)
			}
		}
	})
}

// FuzzParseSecret checks that any string parses or fails cleanly, and that
// a parsed secret prints back to an equivalent one.
func FuzzParseSecret(f *testing.F) {
	f.Add(exampleSecret)
	f.Add("whsec_")
	f.Add("whsec_%%%")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseSecret(in)
		if err != nil {
			return
		}
		again, err := ParseSecret(s.String())
		if err != nil || string(again) != string(s) {
			t.Errorf("%q: round trip %v", in, err)
		}
	})
}
