package store

import (
	"strings"
	"testing"
)

// The text rules normalise what they accept to NFC, in place, and name the
// rule a refusal broke.
func TestTextRules(t *testing.T) {
	name := "Cafe\u0301 cre\u0300me" // decomposed accents
	if err := validName("name", &name); err != nil || name != "Café crème" {
		t.Fatalf("validName: %q, %v; want the NFC form", name, err)
	}
	desc := "line one\n\tline two\r\n"
	if err := validDescription(&desc); err != nil {
		t.Fatalf("a description with tabs and line breaks: %v", err)
	}
	for _, ok := range []string{"שלום", "Ünïcödé ✓", "x", "10%", "\u200fRTL mark"} {
		if err := validName("name", &ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	refused := map[string]string{
		"a\x00b":                 "control characters (U+0000)",
		"tab\tin":                "control characters (U+0009)",
		"\u200b":                 "visible character",
		"   ":                    "visible character",
		"a\u202eb":               "bidirectional",
		"a\u2066b":               "bidirectional",
		"\xff":                   "UTF-8",
		strings.Repeat("é", 201): "at most 200 characters",
	}
	for in, rule := range refused {
		s := in
		if err := validName("name", &s); err == nil || !strings.Contains(err.Error(), rule) || !strings.HasPrefix(err.Error(), "name: ") {
			t.Errorf("%q: %v, want a refusal naming the field and %q", in, err, rule)
		}
	}
	for _, url := range []string{"https://img.example.com/a.jpg", "http://img.example.com:8080/p/a.png?w=200", "HTTPS://IMG.EXAMPLE.COM/A.JPG"} {
		if err := validImageURL("url", url); err != nil {
			t.Errorf("%s refused: %v", url, err)
		}
	}
	for _, c := range []string{"USD", "EUR", "JPY", "MRU", "VES", "XCG", "ZWG", "XOF"} {
		if err := validPrice(Money{Amount: 1, Currency: c}); err != nil {
			t.Errorf("%s refused: %v", c, err)
		}
	}
}
