package main

import "errors"

func runReport(args []string) error { return errors.New("report: not yet") }
