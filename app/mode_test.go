package app

import "github.com/nencds/nencds/internal/security"

// modeOf is Development when dev, else Production.
func modeOf(dev bool) security.Mode {
	if dev {
		return security.Development()
	}
	return security.Production()
}
