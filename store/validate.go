package store

import (
	"fmt"
	"math"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Limits on what an admin may write.
const (
	maxNameLen        = 200
	maxDescriptionLen = 10000
	maxImages         = 20
	maxTags           = 20
	maxTagLen         = 50
	maxURLLen         = 2048
	maxAltLen         = 200
)

// InvalidField returns an Invalid error about one field of the input.
func InvalidField(field, format string, args ...any) *Error {
	return Errorf(Invalid, field+": "+format, args...)
}

// Every string an admin writes passes one of the text rules below, which
// also normalise it to NFC, in place: the same name typed on two keyboards
// is then the same bytes.
//
//   - label (names, tags): no control character (C0, C1, DEL), no
//     bidirectional override or isolate (U+202A–U+202E, U+2066–U+2069,
//     which can make a name read backwards in a page), and at least one
//     visible character: a letter, digit, punctuation or symbol, so that
//     a name of spaces, zero-width or format characters is blank;
//   - text (image alt texts): no control character;
//   - prose (descriptions): no control character but tab and line breaks.

// textRule is one of the rules above.
type textRule uint8

const (
	prose textRule = iota
	text
	label
)

// checkText normalises *s to NFC and checks it against rule and a length
// of at most max characters (min 1 for a label).
func checkText(field string, s *string, rule textRule, max int) error {
	if !utf8.ValidString(*s) {
		return InvalidField(field, "is not valid UTF-8")
	}
	*s = norm.NFC.String(*s)
	visible := false
	for _, r := range *s {
		switch {
		case isControl(r) && (rule != prose || !isLineSpace(r)):
			return InvalidField(field, "must not contain control characters (%U)", r)
		case rule == label && isBidiControl(r):
			return InvalidField(field, "must not contain bidirectional override or isolate characters (%U)", r)
		case unicode.In(r, unicode.L, unicode.N, unicode.P, unicode.S):
			visible = true
		}
	}
	if n := utf8.RuneCountInString(*s); n > max {
		return InvalidField(field, "must be at most %d characters, got %d", max, n)
	}
	if rule == label && !visible {
		return InvalidField(field, "must contain a visible character (a letter, digit, punctuation or symbol)")
	}
	return nil
}

// isControl reports whether r is a C0 or C1 control character or DEL.
func isControl(r rune) bool { return r < 0x20 || (r >= 0x7f && r <= 0x9f) }

// isLineSpace reports whether r is a tab or a line break.
func isLineSpace(r rune) bool { return r == '\t' || r == '\n' || r == '\r' }

// isBidiControl reports whether r overrides or isolates the direction of
// the text around it.
func isBidiControl(r rune) bool { return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) }

func validName(field string, s *string) error { return checkText(field, s, label, maxNameLen) }

func validDescription(s *string) error {
	return checkText("description", s, prose, maxDescriptionLen)
}

func validPrice(m Money) error {
	if m.Amount < 0 {
		return InvalidField("price.amount", "must be 0 or more, got %d", m.Amount)
	}
	if !currencies[m.Currency] {
		return InvalidField("price.currency", "%.10q is not a current ISO 4217 currency code (three capital letters, such as USD)",
			m.Currency)
	}
	return nil
}

func validImages(images []Image) error {
	if len(images) > maxImages {
		return InvalidField("images", "at most %d images, got %d", maxImages, len(images))
	}
	for i := range images {
		field := fmt.Sprintf("images[%d]", i)
		if err := validImageURL(field+".url", images[i].URL); err != nil {
			return err
		}
		if err := checkText(field+".alt", &images[i].Alt, text, maxAltLen); err != nil {
			return err
		}
	}
	return nil
}

// validImageURL checks that s is an absolute http or https URL with a
// host, no userinfo, nothing a page would have to escape (whitespace,
// control characters, quotes, angle brackets, backslashes), and at most
// maxURLLen bytes.
func validImageURL(field, s string) error {
	if len(s) > maxURLLen {
		return InvalidField(field, "must be at most %d bytes, got %d", maxURLLen, len(s))
	}
	if i := strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || isControl(r) || strings.ContainsRune("\"'<>\\`", r)
	}); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return InvalidField(field, "must not contain whitespace, control characters, quotes, angle brackets or backslashes (%U)", r)
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || !strings.EqualFold(u.Scheme, "http") && !strings.EqualFold(u.Scheme, "https"):
		return InvalidField(field, "must be an absolute http or https URL")
	case u.Opaque != "" || u.Hostname() == "":
		return InvalidField(field, "must name a host")
	case u.User != nil:
		return InvalidField(field, "must not carry a user name or password")
	}
	return nil
}

func validTags(tags []string) error {
	if len(tags) > maxTags {
		return InvalidField("tags", "at most %d tags, got %d", maxTags, len(tags))
	}
	for i := range tags {
		if err := checkText(fmt.Sprintf("tags[%d]", i), &tags[i], label, maxTagLen); err != nil {
			return err
		}
	}
	return nil
}

// ValidStock checks a stock level (BAD_USER_INPUT when it is not one).
func ValidStock(n int64) error {
	if n < 0 {
		return InvalidField("stock", "must be 0 or more, got %d", n)
	}
	return nil
}

func validRating(r float64) error {
	if math.IsNaN(r) || r < 0 || r > 5 {
		return InvalidField("rating", "must be between 0 and 5, got %v", r)
	}
	return nil
}
