package oidc

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// Refused exchanges are anonymous: anyone can send garbage, and anyone
// with a CI account can send validly signed tokens that match nothing. One
// audit row each would let a flood grow the database without bound, so
// refusals are written one by one only up to AuditRefusalsPerMinute per
// issuer and kind (signature verified or not); the rest are counted
// (wharf_oidc_audit_suppressed_total) and summarised in one row when the
// minute is over. Accepted exchanges are always written one by one.
const AuditRefusalsPerMinute = 20

type auditLimiter struct {
	mu      sync.Mutex
	window  time.Time             // start of the current minute
	written map[string]int        // rows written this minute, by class
	held    map[string]*heldCount // refusals not written, by class
}

type heldCount struct {
	e       Exchange // the first refusal held: issuer and time
	n       int
	reasons map[string]int
}

func newAuditLimiter() *auditLimiter {
	return &auditLimiter{written: map[string]int{}, held: map[string]*heldCount{}}
}

// admit decides whether e gets its own row, and returns the summaries of
// the minute that has ended, if any, to write first.
func (l *auditLimiter) admit(e Exchange) (own bool, summaries []Exchange) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.Time.Sub(l.window) >= time.Minute || e.Time.Before(l.window) {
		for _, class := range slices.Sorted(maps.Keys(l.held)) {
			summaries = append(summaries, l.held[class].summary())
		}
		l.window = e.Time.Truncate(time.Minute)
		clear(l.written)
		clear(l.held)
	}
	if e.Outcome != "refused" {
		return true, summaries
	}
	class := e.IssuerName + "/verified"
	if e.Claims == nil {
		class = e.IssuerName + "/unverified"
	}
	if l.written[class] < AuditRefusalsPerMinute {
		l.written[class]++
		return true, summaries
	}
	h := l.held[class]
	if h == nil {
		h = &heldCount{e: e, reasons: map[string]int{}}
		l.held[class] = h
	}
	h.n++
	h.reasons[e.Reason]++
	return false, summaries
}

func (h *heldCount) summary() Exchange {
	var rs []string
	for _, r := range slices.Sorted(maps.Keys(h.reasons)) {
		rs = append(rs, fmt.Sprintf("%s=%d", r, h.reasons[r]))
	}
	return Exchange{
		Time: h.e.Time, Issuer: h.e.Issuer, IssuerName: h.e.IssuerName, Outcome: "refused",
		Action: "oidc.mint.suppressed", Suppressed: h.n, Reason: strings.Join(rs, " "),
		Description: fmt.Sprintf("%d more refused exchanges in this minute were not recorded one by one", h.n),
	}
}

// audit writes e through the Auditor, within the refusal budget.
func (x *Exchanger) audit(ctx context.Context, e Exchange) {
	if x.d.Auditor == nil {
		return
	}
	own, summaries := x.limiter.admit(e)
	for _, s := range summaries {
		x.d.Auditor.Record(ctx, s)
	}
	if own {
		x.d.Auditor.Record(ctx, e)
		return
	}
	x.v.m.auditSuppressed.WithLabelValues(e.IssuerName).Inc()
}
