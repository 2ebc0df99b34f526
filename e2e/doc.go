// Package e2e holds wharf's end-to-end tests: a real `wharf serve` process
// driven by the real Python clients (twine, pip, flit, poetry, pdm from
// Debian) and by hand-crafted HTTP requests for the failure cases. The
// package has no code of its own, only tests.
//
// The tests skip unless WHARF_E2E=1, and they fail instead of skipping when
// CI=true and a client they need is missing. scripts/test installs the
// clients and runs them. WHARF_E2E_BINARY points the tests at a prebuilt
// wharf binary; without it TestMain builds ./cmd/wharf once.
package e2e
