package auth

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
)

// Token strings look like
//
//	wharf_<id>_<secret>
//
// The prefix lets secret scanners (GitHub push protection, gitleaks) find
// leaked tokens. <id> is 16 characters of lower-case base32 (80 random
// bits): public, logged, the store key. <secret> is 32 random bytes in
// unpadded URL-safe base64 (43 characters). The ID alphabet has no '_', so
// the first '_' after the prefix always ends it.
const (
	tokenPrefix = "wharf_"
	idBytes     = 10
	idLen       = 16 // base32 of 10 bytes, no padding
	secretBytes = 32
	secretLen   = 43 // base64 of 32 bytes, no padding
	tokenLen    = len(tokenPrefix) + idLen + 1 + secretLen
)

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// formatToken builds the token string from raw random bytes.
func formatToken(id, secret []byte) (tokenID, token string) {
	tokenID = idEncoding.EncodeToString(id)
	return tokenID, tokenPrefix + tokenID + "_" + base64.RawURLEncoding.EncodeToString(secret)
}

// parseToken returns the token ID of a token string with the right length,
// prefix and separator. It is cheap because it runs on every request; the
// alphabet is checked by wellFormed, which Authenticate runs only before
// asking the store (on a cache hit the hash comparison settles it).
func parseToken(tok string) (id string, ok bool) {
	if len(tok) != tokenLen || tok[:len(tokenPrefix)] != tokenPrefix || tok[len(tokenPrefix)+idLen] != '_' {
		return "", false
	}
	return tok[len(tokenPrefix) : len(tokenPrefix)+idLen], true
}

// wellFormed reports whether a token that passed parseToken uses the ID and
// secret alphabets, so junk never reaches the database.
func wellFormed(tok string) bool {
	id := tok[len(tokenPrefix) : len(tokenPrefix)+idLen]
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	secret := tok[len(tok)-secretLen:]
	for i := 0; i < len(secret); i++ {
		if c := secret[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// hashToken is what is stored: sha256 of the secret part (after the ID).
// The secret has 256 bits of entropy, so a fast unsalted hash is enough (no
// password hashing needed); 43 bytes fit one sha256 block, which keeps the
// per-request cost of a cache hit low. tok must have passed parseToken.
func hashToken(tok string) [sha256.Size]byte {
	// Copy into a stack buffer: converting the string directly would
	// allocate on every request.
	var buf [secretLen]byte
	copy(buf[:], tok[len(tok)-secretLen:])
	return sha256.Sum256(buf[:])
}

// TokenID returns the ID part of a whole token string (wharf_<id>_<secret>),
// so a leaked token can be revoked by pasting it without the secret going
// anywhere else; ok is false for anything that is not a token.
func TokenID(tok string) (id string, ok bool) {
	if id, ok = parseToken(tok); !ok || !wellFormed(tok) {
		return "", false
	}
	return id, true
}
