// pngcheck prints what a screenshot holds, for tests that must tell a drawn
// picture from a blank one: "WIDTHxHEIGHT colors=N covered=P" where N is the
// number of distinct colors and P the percentage of pixels that differ from
// the most common color (the background).
//
//	pngcheck FILE.png
package main

import (
	"fmt"
	"image/png"
	"os"
)

func main() {
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	img, err := png.Decode(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "not a PNG:", err)
		os.Exit(1)
	}
	count := map[[4]uint32]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			count[[4]uint32{r, g, bl, a}]++
		}
	}
	most := 0
	for _, n := range count {
		if n > most {
			most = n
		}
	}
	total := b.Dx() * b.Dy()
	fmt.Printf("%dx%d colors=%d covered=%.1f\n", b.Dx(), b.Dy(), len(count),
		100*float64(total-most)/float64(total))
}
