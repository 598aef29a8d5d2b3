package runner

import (
	"fmt"

	"github.com/crmflow/crmflow/api/v1alpha1"
	"github.com/crmflow/crmflow/runner/expr"
	"github.com/crmflow/crmflow/runner/template"
)

// Step kinds that change the flow rather than act.
const (
	kindWait         = "wait"
	kindWaitForEvent = "waitForEvent"
	kindBranch       = "branch"
	kindEnd          = "end"
)

func (e *Engine) compileStep(spec *v1alpha1.WorkflowSpec, i int, index map[string]int, pr *problems) compiledStep {
	step := &spec.Steps[i]
	base := fmt.Sprintf("spec.steps[%d]", i)
	cs := compiledStep{step: step, kind: stepKind(step), templates: map[string]*template.Template{}}
	switch cs.kind {
	case "":
		pr.add(base, "sets no action")
		return cs
	case "!":
		pr.add(base, "sets more than one action")
		return cs
	}
	if step.If != "" {
		prg, err := e.env.Compile(string(step.If), expr.BoolOutput)
		if err != nil {
			pr.addErr(base+".if", err)
		}
		cs.guard = prg
	}
	if step.Timeout != nil {
		d, err := step.Timeout.Parse()
		if err != nil {
			pr.add(base+".timeout", "%v", err)
		}
		// Admission refuses more; a Workflow stored before that bound
		// existed is held to it here.
		cs.attemptTO = min(d, v1alpha1.MaxStepTimeout)
	}
	rp, err := parseRetry(spec.Retry, step.Retry)
	if err != nil {
		pr.add(base+".retry", "%v", err)
	}
	cs.retry = rp
	for _, tf := range collectTemplates(step) {
		compileT := template.Compile
		if tf.json {
			compileT = template.CompileJSON
		}
		t, err := compileT(e.env, tf.src)
		if err != nil {
			pr.addErr(base+"."+tf.path, err)
			continue
		}
		cs.templates[tf.path] = t
	}
	e.compileFlow(&cs, spec, base, index, pr)
	checkConnections(&cs, spec, base, pr)
	return cs
}

// compileFlow handles wait, waitForEvent, branch and createTask's dueIn.
func (e *Engine) compileFlow(cs *compiledStep, spec *v1alpha1.WorkflowSpec, base string, index map[string]int, pr *problems) {
	step := cs.step
	var err error
	switch cs.kind {
	case kindWait:
		w := step.Wait
		n := 0
		if w.Duration != nil {
			n++
			if cs.duration, err = w.Duration.Parse(); err != nil {
				pr.add(base+".wait.duration", "%v", err)
			}
		}
		if w.Until != "" {
			n++
			if cs.until, err = e.env.Compile(string(w.Until), expr.TimestampOutput); err != nil {
				pr.addErr(base+".wait.until", err)
			}
		}
		if w.BusinessHours != nil {
			n++
			bh := w.BusinessHours
			win, err := expr.ParseWindow(bh.TimeZone, weekdayStrings(bh.Days), bh.From, bh.To)
			if err != nil {
				pr.add(base+".wait.businessHours", "%v", err)
			}
			cs.window = &win
		}
		if n != 1 {
			pr.add(base+".wait", "set exactly one of duration, until or businessHours")
		}
	case kindWaitForEvent:
		w := step.WaitForEvent
		if len(w.Types) == 0 {
			pr.add(base+".waitForEvent.types", "needs at least one event type")
		}
		if cs.timeout, err = w.Timeout.Parse(); err != nil {
			pr.add(base+".waitForEvent.timeout", "%v", err)
		}
		if w.Filter != "" {
			if cs.filter, err = e.env.Compile(string(w.Filter), expr.BoolOutput); err != nil {
				pr.addErr(base+".waitForEvent.filter", err)
			}
		}
	case kindBranch:
		b := step.Branch
		if cs.branch, err = e.env.Compile(string(b.If), expr.BoolOutput); err != nil {
			pr.addErr(base+".branch.if", err)
		}
		if _, ok := index[b.Then]; !ok {
			pr.add(base+".branch.then", "no step named %q", b.Then)
		}
		if _, ok := index[b.Else]; b.Else != "" && !ok {
			pr.add(base+".branch.else", "no step named %q", b.Else)
		}
	case kindEnd:
		if r := step.End.Result; r != "" && r != v1alpha1.EndSucceeded && r != v1alpha1.EndFailed {
			pr.add(base+".end.result", "must be Succeeded or Failed, not %q", r)
		}
	case "createTask":
		if step.CreateTask.DueIn != nil {
			if cs.dueIn, err = step.CreateTask.DueIn.Parse(); err != nil {
				pr.add(base+".createTask.dueIn", "%v", err)
			}
		}
	}
}

// checkConnections reports actions whose delivery target is not configured.
func checkConnections(cs *compiledStep, spec *v1alpha1.WorkflowSpec, base string, pr *problems) {
	c := spec.Connections
	if c == nil {
		c = &v1alpha1.Connections{}
	}
	switch cs.kind {
	case "sendEmail":
		if c.SMTP == nil {
			pr.add(base+".sendEmail", "needs spec.connections.smtp")
		}
	case "sendSMS":
		if c.SMS == nil {
			pr.add(base+".sendSMS", "needs spec.connections.sms")
		}
	case "notify":
		if cs.step.Notify.WebhookURLSecretRef == nil && c.Notify == nil {
			pr.add(base+".notify", "needs webhookURLSecretRef or spec.connections.notify")
		}
	}
}
