package oidc

import "github.com/prometheus/client_golang/prometheus"

// metrics are registered on the injected registerer, never the global one.
// Label values are bounded: issuer names come from configuration ("unknown"
// for tokens naming anything else), reasons from a fixed set in refusal.go.
type metrics struct {
	jwksFetches *prometheus.CounterVec // issuer, result
	exchanges   *prometheus.CounterVec // issuer, outcome
	refusals    *prometheus.CounterVec // reason
	// auditSuppressed counts refusals not written one by one (auditlimit.go).
	auditSuppressed *prometheus.CounterVec // issuer
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		jwksFetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wharf_oidc_jwks_fetches_total",
			Help: "Discovery and JWKS refreshes per configured issuer, by result.",
		}, []string{"issuer", "result"}),
		exchanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wharf_oidc_exchanges_total",
			Help: "ID-token exchanges by issuer and outcome (ok, refused, error).",
		}, []string{"issuer", "outcome"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wharf_oidc_refusals_total",
			Help: "Refused ID-token exchanges by reason.",
		}, []string{"reason"}),
		auditSuppressed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wharf_oidc_audit_suppressed_total",
			Help: "Refused ID-token exchanges counted in a per-minute summary audit record instead of one record each.",
		}, []string{"issuer"}),
	}
	for _, c := range []prometheus.Collector{m.jwksFetches, m.exchanges, m.refusals, m.auditSuppressed} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
