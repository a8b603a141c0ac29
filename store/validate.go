package store

import (
	"math"
	"net/url"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/currency"
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

// invalid returns an Invalid error about one field of the input.
func invalid(field, format string, args ...any) *Error {
	return Errorf(Invalid, field+": "+format, args...)
}

func validName(field, s string) error {
	n := utf8.RuneCountInString(s)
	if !utf8.ValidString(s) || strings.TrimSpace(s) == "" || n > maxNameLen {
		return invalid(field, "must be 1 to %d characters, not blank", maxNameLen)
	}
	return nil
}

func validDescription(s string) error {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxDescriptionLen {
		return invalid("description", "must be at most %d characters", maxDescriptionLen)
	}
	return nil
}

func validPrice(m Money) error {
	if m.Amount < 0 {
		return invalid("price.amount", "must be 0 or more, got %d", m.Amount)
	}
	if len(m.Currency) != 3 || strings.ToUpper(m.Currency) != m.Currency {
		return invalid("price.currency", "%.10q is not a three-letter ISO 4217 code", m.Currency)
	}
	if _, err := currency.ParseISO(m.Currency); err != nil {
		return invalid("price.currency", "%q is not an ISO 4217 currency", m.Currency)
	}
	return nil
}

func validImages(images []Image) error {
	if len(images) > maxImages {
		return invalid("images", "at most %d images, got %d", maxImages, len(images))
	}
	for i, img := range images {
		u, err := url.Parse(img.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(img.URL) > maxURLLen {
			return invalid("images["+itoa(i)+"].url", "must be an http or https URL of at most %d characters", maxURLLen)
		}
		if !utf8.ValidString(img.Alt) || utf8.RuneCountInString(img.Alt) > maxAltLen {
			return invalid("images["+itoa(i)+"].alt", "must be at most %d characters", maxAltLen)
		}
	}
	return nil
}

func validTags(tags []string) error {
	if len(tags) > maxTags {
		return invalid("tags", "at most %d tags, got %d", maxTags, len(tags))
	}
	for i, t := range tags {
		if !utf8.ValidString(t) || strings.TrimSpace(t) == "" || utf8.RuneCountInString(t) > maxTagLen {
			return invalid("tags["+itoa(i)+"]", "must be 1 to %d characters, not blank", maxTagLen)
		}
	}
	return nil
}

func validStock(n int64) error {
	if n < 0 {
		return invalid("stock", "must be 0 or more, got %d", n)
	}
	return nil
}

func validRating(r float64) error {
	if math.IsNaN(r) || r < 0 || r > 5 {
		return invalid("rating", "must be between 0 and 5, got %v", r)
	}
	return nil
}
