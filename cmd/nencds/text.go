package main

import (
	"errors"
	"io"

	"github.com/nencds/nencds/cards"
)

// writeText prints the text report of resp.
//
// TODO(cmd): call cards.WriteText(w, resp) once the cards package exports it.
func writeText(w io.Writer, resp cards.Response) error {
	return errors.New("-text: the text report (cards.WriteText) is not available in this build")
}
