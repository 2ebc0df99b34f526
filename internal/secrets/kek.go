package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KEKSize is the length of a key-encryption key: AES-256.
const KEKSize = 32

// ParseKEK decodes a key-encryption key written as text: 64 hex digits or
// the base64 (standard or URL alphabet, padded or not) of 32 bytes.
// Surrounding white space is ignored. The error never repeats the input.
func ParseKEK(text string) ([]byte, error) {
	s := strings.TrimSpace(text)
	if len(s) == 2*KEKSize {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == KEKSize {
			return k, nil
		}
	}
	return nil, fmt.Errorf("a key-encryption key must be %d random bytes written as 64 hex digits or in base64 "+
		"(make one with: head -c 32 /dev/urandom | base64)", KEKSize)
}

// KEKID names a key-encryption key without revealing it: the first 8 bytes
// of a SHA-256 over a domain label and the key, in hex. It is stored next
// to every data key the KEK wraps, so the right key is picked after a
// rotation and a wrong one is detected before decrypting anything.
func KEKID(kek []byte) string {
	h := sha256.New()
	h.Write([]byte("wharf secrets kek id\x00"))
	h.Write(kek)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// ReadKEKFile reads and parses a key file; errors name the file, never
// its content.
func ReadKEKFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := ParseKEK(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// EnsureKEKFile reads the key at path, creating it (32 random bytes in
// base64, mode 0600) when it does not exist. created reports which.
// The file is written to a temporary name and linked into place, so two
// processes starting at once agree on one key and a crash never leaves a
// half-written key.
func EnsureKEKFile(path string) (kek []byte, created bool, err error) {
	k, err := ReadKEKFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}
	k = make([]byte, KEKSize)
	rand.Read(k)
	if err := WriteKEKFile(path, k); err != nil {
		if errors.Is(err, fs.ErrExist) {
			k, err := ReadKEKFile(path) // another process won the race
			return k, false, err
		}
		return nil, false, err
	}
	return k, true, nil
}

// WriteKEKFile writes kek to a new file at path (mode 0600), failing with
// fs.ErrExist if path exists. The content is complete and synced before
// the name appears.
func WriteKEKFile(path string, kek []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".kek-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(kek) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// CreateTemp made it 0600. Link, unlike rename, refuses to replace.
	return os.Link(tmp, path)
}

// keyring holds the KEKs this process can unwrap with, by ID, and the one
// new data keys are wrapped with. Immutable once built; rotation swaps in
// a new keyring.
type keyring struct {
	primary string
	aeads   map[string]cipher.AEAD
}

func newKeyring(primary []byte, previous ...[]byte) (*keyring, error) {
	if len(primary) != KEKSize {
		return nil, fmt.Errorf("the key-encryption key must be %d bytes, not %d", KEKSize, len(primary))
	}
	kr := &keyring{primary: KEKID(primary), aeads: make(map[string]cipher.AEAD, 1+len(previous))}
	for i, k := range append([][]byte{primary}, previous...) {
		if len(k) != KEKSize {
			return nil, fmt.Errorf("previous key-encryption key %d must be %d bytes, not %d", i, KEKSize, len(k))
		}
		a, err := newAEAD(k)
		if err != nil {
			return nil, err
		}
		kr.aeads[KEKID(k)] = a
	}
	return kr, nil
}

// newAEAD is AES-256-GCM with a random 96-bit nonce prepended to each
// ciphertext. A data key seals few values and a KEK wraps few data keys,
// far below the 2^32 messages where random nonces would start to risk a
// collision.
func newAEAD(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(b)
}
