package jail

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"
)

// fileOp bounds a file operation's wait for the code's answer.
const fileOp = 60 * time.Second

// SessionFile is one entry of a session's /work.
type SessionFile struct {
	Path string // slash-separated, relative to /work
	Kind string // "file", "dir", "symlink" or "other"
	Size int64  // of a regular file
}

// PutFile writes data to path (relative to /work, checked by the caller
// like an upload's) in the session's /work with mode's permission bits,
// making its parent directories. The session's code does it, as the
// sandbox user inside the jail: nothing is resolved through a symbolic
// link, and the session's disk size holds. It waits for a running cell.
func (s *Session) PutFile(ctx context.Context, path string, mode fs.FileMode, data []byte) error {
	_, err := s.fileOp(ctx, "put", path, mode, func(w *os.File) ([]byte, error) {
		_, _ = w.Write(data) // EPIPE: the code refused it (and says why)
		return nil, nil
	}, true)
	return err
}

// GetFile reads the regular file at path of the session's /work, at most
// max bytes (ErrFileTooLarge past it), as PutFile resolves it.
func (s *Session) GetFile(ctx context.Context, path string, max int64) ([]byte, error) {
	return s.fileOp(ctx, "get", path, 0, func(r *os.File) ([]byte, error) {
		b, err := io.ReadAll(io.LimitReader(r, max+1))
		if int64(len(b)) > max {
			return nil, ErrFileTooLarge
		}
		return b, err
	}, false)
}

// ListFiles lists the session's /work (at most 10000 entries, 32 levels
// deep), links not followed.
func (s *Session) ListFiles(ctx context.Context) ([]SessionFile, error) {
	b, err := s.fileOp(ctx, "list", "", 0, func(r *os.File) ([]byte, error) {
		return io.ReadAll(io.LimitReader(r, 64<<20))
	}, false)
	if err != nil {
		return nil, err
	}
	var out []SessionFile
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	kinds := map[string]string{"f": "file", "d": "dir", "l": "symlink", "o": "other"}
	for sc.Scan() {
		kind, rest, _ := strings.Cut(sc.Text(), " ")
		size, p, ok := strings.Cut(rest, " ")
		n, err := strconv.ParseInt(size, 10, 64)
		if !ok || err != nil || kinds[kind] == "" {
			continue
		}
		out = append(out, SessionFile{Path: p, Kind: kinds[kind], Size: n})
	}
	return out, nil
}

// fileOp sends op with one pipe: the code reads it (put: toCode) or
// writes it; io runs on the server's end meanwhile.
func (s *Session) fileOp(ctx context.Context, op, path string, mode fs.FileMode, io func(*os.File) ([]byte, error), toCode bool) ([]byte, error) {
	if err := s.acquire(ctx); err != nil {
		return nil, err
	}
	defer s.release()
	s.drain()
	ps, err := pipes(1)
	if err != nil {
		return nil, err
	}
	mine, theirs := ps[0][0], ps[0][1]
	if toCode {
		mine, theirs = theirs, mine
	}
	fields := [][2]string{{"op", op}}
	if path != "" {
		fields = append(fields, [2]string{"path", path})
	}
	if op == "put" {
		fields = append(fields, [2]string{"mode", strconv.FormatUint(uint64(mode.Perm()), 8)})
	}
	seq, err := s.send(fields, fdsOf(theirs))
	theirs.Close()
	if err != nil {
		mine.Close()
		return nil, s.sendFailed(err)
	}
	type got struct {
		b   []byte
		err error
	}
	ch := make(chan got, 1)
	go func() {
		b, err := io(mine)
		mine.Close() // a get past max: the code's write fails and it answers
		ch <- got{b, err}
	}()
	answer, alive, err := s.await(ctx, seq, fileOp)
	if err != nil {
		mine.Close()
		<-ch
		return nil, err
	}
	if !alive {
		mine.Close()
		<-ch
		return nil, ErrSessionEnded
	}
	r := <-ch
	if r.err != nil {
		return nil, r.err
	}
	if msg, ok := strings.CutPrefix(answer, "error "); ok {
		return nil, &SessionError{Msg: msg}
	}
	if answer != "ok" {
		return nil, &SessionError{Msg: "the session's code gave no answer"}
	}
	return r.b, nil
}
