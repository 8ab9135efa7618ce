// Command tlogcheck checks Sealtrail's checkpoints, witness cosignatures and tiles with Go's
// golang.org/x/mod/sumdb/note and sumdb/tlog packages: code Sealtrail did not write, so the
// integration tests prove the formats are the ecosystem's, not merely self-consistent.
//
//	tlogcheck cosigned <log vkey> <witness vkey> <note file>
//	    the note verifies under the log key AND carries a valid cosignature/v1 by the witness
//	tlogcheck tiles <log URL prefix> <log vkey> <old note file> <new note file> [<index>:<hex leaf hash>...]
//	    fetches tiles over HTTP (Authorization from $TLOG_AUTHORIZATION, if set), checks that
//	    they hash to both checkpoints' roots, that the new tree extends the old one, and that
//	    each given leaf hash is at its index
//
// It prints "ok" and exits 0, or prints the failure and exits 1.
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Println("FAILED:", err)
		os.Exit(1)
	}
	fmt.Println("ok")
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: tlogcheck cosigned|tiles ...")
	}
	switch args[0] {
	case "cosigned":
		if len(args) != 4 {
			return errors.New("usage: tlogcheck cosigned <log vkey> <witness vkey> <note file>")
		}
		return cosigned(args[1], args[2], args[3])
	case "tiles":
		if len(args) < 5 {
			return errors.New("usage: tlogcheck tiles <prefix> <log vkey> <old note> <new note> [i:hash...]")
		}
		return tiles(args[1], args[2], args[3], args[4], args[5:])
	}
	return fmt.Errorf("unknown command %q", args[0])
}

// cosignatureVerifier is a note.Verifier for C2SP tlog-cosignature/v1 (algorithm 0x04), which
// x/mod's note package does not know: note.Open hands it the signed text and the signature
// bytes after the key hash (an 8-byte timestamp, then the Ed25519 signature).
type cosignatureVerifier struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

func (v *cosignatureVerifier) Name() string    { return v.name }
func (v *cosignatureVerifier) KeyHash() uint32 { return v.hash }
func (v *cosignatureVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig[:8])
	signed := fmt.Sprintf("cosignature/v1\ntime %d\n%s", t, msg)
	return ed25519.Verify(v.key, []byte(signed), sig[8:])
}

func newCosignatureVerifier(vkey string) (*cosignatureVerifier, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return nil, fmt.Errorf("malformed witness key %q", vkey)
	}
	name, hash16, key64 := parts[0], parts[1], parts[2]
	hash, err1 := strconv.ParseUint(hash16, 16, 32)
	key, err2 := base64.StdEncoding.DecodeString(key64)
	if err1 != nil || err2 != nil || len(hash16) != 8 || len(key) != 33 || key[0] != 0x04 {
		return nil, fmt.Errorf("malformed witness key %q", vkey)
	}
	h := sha256.New()
	h.Write([]byte(name + "\n"))
	h.Write(key)
	if binary.BigEndian.Uint32(h.Sum(nil)) != uint32(hash) {
		return nil, fmt.Errorf("witness key %q: key hash does not match the key", vkey)
	}
	return &cosignatureVerifier{name: name, hash: uint32(hash), key: ed25519.PublicKey(key[1:])}, nil
}

func cosigned(logKey, witnessKey, file string) error {
	log, err := note.NewVerifier(logKey)
	if err != nil {
		return err
	}
	witness, err := newCosignatureVerifier(witnessKey)
	if err != nil {
		return err
	}
	msg, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	n, err := note.Open(msg, note.VerifierList(log, witness))
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, sig := range n.Sigs {
		seen[sig.Name] = true
	}
	if !seen[log.Name()] || !seen[witness.Name()] {
		return fmt.Errorf("verified signatures %v lack the log or the witness", n.Sigs)
	}
	return nil
}

// checkpoint opens a C2SP checkpoint note with the log key: origin, size, root.
func checkpoint(log note.Verifier, file string) (string, tlog.Tree, error) {
	msg, err := os.ReadFile(file)
	if err != nil {
		return "", tlog.Tree{}, err
	}
	n, err := note.Open(msg, note.VerifierList(log))
	if err != nil {
		return "", tlog.Tree{}, err
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 {
		return "", tlog.Tree{}, fmt.Errorf("not a checkpoint: %q", n.Text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return "", tlog.Tree{}, err
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return "", tlog.Tree{}, fmt.Errorf("bad root %q", lines[2])
	}
	var hash tlog.Hash
	copy(hash[:], root)
	return lines[0], tlog.Tree{N: size, Hash: hash}, nil
}

// httpTiles reads C2SP tlog-tiles paths: sumdb's tile/8/L/N with the height dropped.
type httpTiles struct{ prefix string }

func (t httpTiles) Height() int { return 8 }

func (t httpTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, tile := range tiles {
		path := strings.TrimPrefix(tile.Path(), "tile/8/")
		req, err := http.NewRequest("GET", t.prefix+"/tile/"+path, nil)
		if err != nil {
			return nil, err
		}
		if auth := os.Getenv("TLOG_AUTHORIZATION"); auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != 200 {
			return nil, fmt.Errorf("GET %s: %s %s", path, resp.Status, bytes.TrimSpace(body))
		}
		out[i] = body
	}
	return out, nil
}

func (t httpTiles) SaveTiles([]tlog.Tile, [][]byte) {}

func tiles(prefix, logKey, oldFile, newFile string, leaves []string) error {
	log, err := note.NewVerifier(logKey)
	if err != nil {
		return err
	}
	oldOrigin, old, err := checkpoint(log, oldFile)
	if err != nil {
		return fmt.Errorf("old checkpoint: %v", err)
	}
	newOrigin, cur, err := checkpoint(log, newFile)
	if err != nil {
		return fmt.Errorf("new checkpoint: %v", err)
	}
	if oldOrigin != newOrigin || old.N > cur.N {
		return fmt.Errorf("checkpoints of %q (%d) and %q (%d) do not follow each other", oldOrigin, old.N, newOrigin, cur.N)
	}
	reader := tlog.TileHashReader(cur, httpTiles{prefix})
	root, err := tlog.TreeHash(cur.N, reader)
	if err != nil {
		return fmt.Errorf("tree hash at %d: %v", cur.N, err)
	}
	if root != cur.Hash {
		return fmt.Errorf("tiles hash to %v, the checkpoint says %v", root, cur.Hash)
	}
	proof, err := tlog.ProveTree(cur.N, old.N, reader)
	if err != nil {
		return fmt.Errorf("consistency proof %d -> %d: %v", old.N, cur.N, err)
	}
	if err := tlog.CheckTree(proof, cur.N, cur.Hash, old.N, old.Hash); err != nil {
		return fmt.Errorf("the tree of %d does not extend the tree of %d: %v", cur.N, old.N, err)
	}
	for _, leaf := range leaves {
		i, h, ok := strings.Cut(leaf, ":")
		index, err := strconv.ParseInt(i, 10, 64)
		raw, err2 := hex.DecodeString(h)
		if !ok || err != nil || err2 != nil || len(raw) != tlog.HashSize {
			return fmt.Errorf("bad leaf argument %q", leaf)
		}
		var hash tlog.Hash
		copy(hash[:], raw)
		p, err := tlog.ProveRecord(cur.N, index, reader)
		if err != nil {
			return fmt.Errorf("inclusion proof of %d: %v", index, err)
		}
		if err := tlog.CheckRecord(p, cur.N, cur.Hash, index, hash); err != nil {
			return fmt.Errorf("leaf %d is not in the tree: %v", index, err)
		}
	}
	return nil
}
