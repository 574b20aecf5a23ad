//go:build tools

package tools

import _ "github.com/globalsign/est/cmd/estserver"
