package main

import (
	"io"

	"github.com/nencds/nencds/cards"
)

// writeText prints the text report of resp (cards.WriteText).
func writeText(w io.Writer, resp cards.Response) error { return cards.WriteText(w, resp) }
