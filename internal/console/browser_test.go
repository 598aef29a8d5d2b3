//go:build !unit

package console_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// tab is one browser tab for one spec.
type tab struct {
	ctx context.Context
}

func newTab() *tab {
	GinkgoHelper()
	ctx, cancelTab := chromedp.NewContext(browser)
	DeferCleanup(cancelTab)
	Expect(chromedp.Do(ctx)).To(Succeed())
	return &tab{ctx: ctx}
}

// run performs actions, each batch bounded so a missing element fails the
// spec instead of hanging it.
func (t *tab) run(actions ...chromedp.Action[chromedp.Void]) {
	GinkgoHelper()
	ctx, cancel := context.WithTimeout(t.ctx, 30*time.Second)
	defer cancel()
	Expect(chromedp.Do(ctx, actions...)).To(Succeed())
}

func (t *tab) open(url string) {
	GinkgoHelper()
	t.run(chromedp.Navigate(url))
}

func (t *tab) click(sel string) {
	GinkgoHelper()
	t.run(chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

// typeInto types text into an input, key by key.
func (t *tab) typeInto(sel, text string) {
	GinkgoHelper()
	t.run(chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), text))
}

// retype empties an input (as select-all + delete would) and types text.
func (t *tab) retype(sel, text string) {
	GinkgoHelper()
	t.run(chromedp.WaitVisible(chromedp.CSS(sel)))
	evalJS[bool](t, fmt.Sprintf(`(() => { const el = document.querySelector(%q); el.value = ''; el.dispatchEvent(new Event('input', {bubbles: true})); return true })()`, sel))
	t.typeInto(sel, text)
}

// choose picks an option of a select, as a person's click on it does.
func (t *tab) choose(sel, value string) {
	GinkgoHelper()
	t.run(chromedp.WaitVisible(chromedp.CSS(sel)))
	got := evalJS[string](t, fmt.Sprintf(`(() => { const el = document.querySelector(%q); el.value = %q; el.dispatchEvent(new Event('change', {bubbles: true})); return el.value })()`, sel, value))
	Expect(got).To(Equal(value), "option %q of %s", value, sel)
}

// evalJS evaluates a JavaScript expression in the page.
func evalJS[T any](t *tab, js string) T {
	GinkgoHelper()
	ctx, cancel := context.WithTimeout(t.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	Expect(err).NotTo(HaveOccurred(), js)
	return v
}

// text is the visible text of the first element matching sel ("" if none).
func (t *tab) text(sel string) string {
	ctx, cancel := context.WithTimeout(t.ctx, 5*time.Second)
	defer cancel()
	js := fmt.Sprintf(`(() => { const el = document.querySelector(%q); return el ? el.innerText : '' })()`, sel)
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		return ""
	}
	return s
}

// waitText waits until sel's text contains want.
func (t *tab) waitText(sel, want string) {
	GinkgoHelper()
	Eventually(func() string { return t.text(sel) }).Should(ContainSubstring(want), "text of %s", sel)
}

// waitValue waits until the value of the input or textarea sel contains want.
func (t *tab) waitValue(sel, want string) {
	GinkgoHelper()
	js := fmt.Sprintf(`(() => { const el = document.querySelector(%q); return el ? el.value : '' })()`, sel)
	Eventually(func() string { return evalJS[string](t, js) }).Should(ContainSubstring(want), "value of %s", sel)
}

// screenshot writes a full-page PNG into the artifacts directory.
func (t *tab) screenshot(name string) string {
	GinkgoHelper()
	ctx, cancel := context.WithTimeout(t.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(artifacts, name+".png")
	Expect(os.WriteFile(path, png, 0o644)).To(Succeed())
	GinkgoWriter.Printf("screenshot: %s\n", path)
	return path
}
