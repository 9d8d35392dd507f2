package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestScratch(t *testing.T) {
	files, _ := filepath.Glob("/tmp/cases/*.yaml")
	for _, f := range files {
		data, _ := os.ReadFile(f)
		_, err := Parse(filepath.Base(f), data, "testdata")
		fmt.Printf("== %s\n%v\n", f, err)
	}
}
