package bootstrap

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestValidateClusterName(t *testing.T) {
	for name, wantErr := range map[string]string{
		"member1":               "",
		"a":                     "",
		"":                      "required",
		"Member1":               "lower case",
		"member_1":              "lower case",
		"-member":               "alphanumeric",
		strings.Repeat("a", 48): "",
		strings.Repeat("a", 49): "no more than 48",
		"member.one":            "dots",
	} {
		err := ValidateClusterName(name)
		switch {
		case wantErr == "" && err != nil:
			t.Errorf("%q: %v", name, err)
		case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
			t.Errorf("%q: error %v, want one mentioning %q", name, err, wantErr)
		}
	}
}

func TestUndoStackRunsInReverseAndCollectsErrors(t *testing.T) {
	var order []int
	var u undoStack
	for i := range 3 {
		u.push(func(context.Context) error {
			order = append(order, i)
			if i == 1 {
				return errors.New("step 1 failed")
			}
			return nil
		})
	}
	err := u.run()
	if len(order) != 3 || order[0] != 2 || order[2] != 0 {
		t.Errorf("order %v, want 2 1 0", order)
	}
	if err == nil || !strings.Contains(err.Error(), "step 1 failed") {
		t.Errorf("error %v", err)
	}
	if u.run() != nil || len(order) != 3 {
		t.Error("steps ran twice")
	}
}
