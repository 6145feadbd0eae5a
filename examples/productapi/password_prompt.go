package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// promptPassword asks for a password on standard error and reads it from
// in: without echo when in is a terminal, else as one line (a pipe or a
// redirected file).
func promptPassword(in io.Reader) (string, error) {
	fmt.Fprint(os.Stderr, "password: ")
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(os.Stderr) // the newline the user typed was not echoed
		if err != nil {
			return "", fmt.Errorf("create-admin: reading the password: %w", err)
		}
		return string(b), nil
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("create-admin: reading the password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
