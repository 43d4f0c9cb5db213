// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package userservice is the seed article's service in Go: an HTTP server
// that returns the details of the user named by the request's userid
// header if an upstream site is reachable.
//
// The user ID is never passed along as a parameter. The propagator maps the
// legacy userid header to the baggage member user.id (under the policy of
// telemetry.Propagator, which accepts nothing else), the request runs in an
// asynctrack scope, and getCurrentUser, which takes no parameter, reads it
// from there, in whatever goroutine it runs. The upstream, a stand-in for
// the seed's google.com, receives the trace context but no baggage: the
// egress policy sends user.id to internal hosts only.
package userservice

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
	"github.com/otelctx/otelctx/examples/telemetry"
)

// User is a row of the users table.
type User struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

// Users are the users OpenDB seeds the database with.
var Users = []User{
	{"ada", "Ada Lovelace", "ada@example.com"},
	{"alan", "Alan Turing", "alan@example.com"},
	{"barbara", "Barbara Liskov", "barbara@example.com"},
	{"donald", "Donald Knuth", "donald@example.com"},
	{"edsger", "Edsger Dijkstra", "edsger@example.com"},
	{"grace", "Grace Hopper", "grace@example.com"},
	{"ken", "Ken Thompson", "ken@example.com"},
	{"margaret", "Margaret Hamilton", "margaret@example.com"},
}

// DB is the users database, opened by the first query that needs it.
//
// sql.Open starts the pool's connection opener, a goroutine that lives as
// long as the pool, and the pool starts more as it goes. Opened inside the
// request that first needs it, they would see that request's values for as
// long as its scope stays open. Like every long-lived client made lazily
// (gRPC, Redis, a message queue), the database is opened inside
// asynctrack.Exit: outside every request, whichever one happens to open it.
type DB struct {
	opened atomic.Pointer[openDB]
	mu     sync.Mutex // held while opening or closing
	closed bool
}

type openDB struct {
	db   *sql.DB
	byID *sql.Stmt
}

// NewDB returns the users database, an in-memory SQLite database seeded
// with Users when the first query opens it.
func NewDB() *DB { return &DB{} }

// User returns the user id, or an error wrapping sql.ErrNoRows.
func (d *DB) User(ctx context.Context, id string) (User, error) {
	o, err := d.open(ctx)
	if err != nil {
		return User{}, err
	}
	var u User
	err = o.byID.QueryRowContext(ctx, id).Scan(&u.ID, &u.Name, &u.Email)
	return u, err
}

// open returns the open database, opening it outside every request if it
// is not yet. A failed open is tried again by the next query.
func (d *DB) open(ctx context.Context) (*openDB, error) {
	if o := d.opened.Load(); o != nil {
		return o, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if o := d.opened.Load(); o != nil {
		return o, nil
	}
	if d.closed {
		return nil, errors.New("userservice: database closed")
	}
	var (
		o   *openDB
		err error
	)
	asynctrack.Exit(ctx, func(ctx context.Context) { o, err = openSeeded(ctx) })
	if err != nil {
		return nil, err
	}
	d.opened.Store(o)
	return o, nil
}

// openSeeded opens an in-memory SQLite database seeded with Users.
//
// An in-memory SQLite database lives in one connection, so the pool is held
// to one connection that is never closed while the database is open; a
// service with a database file would not need that.
func openSeeded(ctx context.Context) (_ *openDB, err error) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = db.Close()
		}
	}()
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := seed(ctx, db); err != nil {
		return nil, fmt.Errorf("userservice: seeding the database: %w", err)
	}
	// Prepared once: parsing the statement costs more than running it.
	byID, err := db.PrepareContext(ctx, `SELECT id, name, email FROM users WHERE id = ?`)
	if err != nil {
		return nil, err
	}
	return &openDB{db: db, byID: byID}, nil
}

// Close closes the database, if a query opened it; it cannot be opened
// again.
func (d *DB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	o := d.opened.Swap(nil)
	if o == nil {
		return nil
	}
	return errors.Join(o.byID.Close(), o.db.Close())
}

func seed(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL)`); err != nil {
		return err
	}
	for _, u := range Users {
		if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, name, email) VALUES (?, ?, ?)`, u.ID, u.Name, u.Email); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// UpstreamTimeout bounds the upstream check.
const UpstreamTimeout = 5 * time.Second

// Errors of a lookup, each answered with its own status.
var (
	errNoUser      = errors.New("no user ID: send the user ID in the userid header")
	errUnknownUser = errors.New("unknown user")
	errUpstream    = errors.New("upstream unreachable")
)

// Service serves GET /user: the current user's details, if the upstream is
// reachable.
type Service struct {
	tel      *telemetry.Service
	db       *DB
	upstream string
	client   *http.Client
	tracer   trace.Tracer
}

// New returns the service, instrumented by tel, which reads users from db
// and checks upstream (a URL).
func New(tel *telemetry.Service, db *DB, upstream string) *Service {
	return &Service{
		tel:      tel,
		db:       db,
		upstream: upstream,
		client:   tel.Client(),
		tracer:   tel.TracerProvider.Tracer("github.com/otelctx/otelctx/examples/userservice"),
	}
}

// Handler returns the service's routes, instrumented.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /user", s.tel.Handler(http.HandlerFunc(s.serveUser)))
	return mux
}

// Response is the JSON body of GET /user: the user, or an error.
type Response struct {
	User  *User  `json:"user,omitempty"`
	Error string `json:"error,omitempty"`
}

func (s *Service) serveUser(w http.ResponseWriter, r *http.Request) {
	u, err := s.returnUserIfUpstreamIsAccessible(r.Context())
	code := http.StatusOK
	switch {
	case errors.Is(err, errNoUser):
		code = http.StatusBadRequest
	case errors.Is(err, errUnknownUser):
		code = http.StatusNotFound
	case errors.Is(err, errUpstream):
		code = http.StatusBadGateway
	case err != nil:
		code = http.StatusInternalServerError
	}
	resp := Response{User: &u}
	if err != nil {
		resp = Response{Error: publicMessage(err, code)}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(resp)
}

// publicMessage is what a client is told of err: the text of the lookup's
// own errors, never anything it sent or an internal detail.
func publicMessage(err error, code int) string {
	for _, known := range []error{errNoUser, errUnknownUser, errUpstream} {
		if errors.Is(err, known) {
			return known.Error()
		}
	}
	return http.StatusText(code)
}

// returnUserIfUpstreamIsAccessible is the seed's method of the same name.
// As the seed's promise callback does, it looks the user up in a goroutine
// of its own, and passes it nothing.
func (s *Service) returnUserIfUpstreamIsAccessible(ctx context.Context) (User, error) {
	if _, ok := currentUserID(); !ok {
		return User{}, errNoUser
	}
	if err := s.checkUpstream(ctx); err != nil {
		return User{}, err
	}
	type result struct {
		u   User
		err error
	}
	done := make(chan result, 1)
	asynctrack.Go(ctx, func(context.Context) {
		u, err := s.getCurrentUser()
		done <- result{u, err}
	})
	res := <-done
	return res.u, res.err
}

// checkUpstream sends GET to the upstream and wants a 2xx answer.
func (s *Service) checkUpstream(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, UpstreamTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.upstream, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", errUpstream, err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %v", errUpstream, err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%w: %s answered %s", errUpstream, s.upstream, resp.Status)
	}
	return nil
}

// getCurrentUser is the seed's getCurrentUser: it takes no parameter and
// looks up the user of the request the calling goroutine works for.
func (s *Service) getCurrentUser() (User, error) {
	id, ok := currentUserID()
	if !ok {
		return User{}, errNoUser
	}
	// The ambient context carries the request's span, so the query's span
	// is its child, and the request's cancellation.
	ctx, span := s.tracer.Start(asynctrack.Ambient(), "SELECT users", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", "sqlite"), attribute.String("db.collection.name", "users")))
	defer span.End()
	u, err := s.db.User(ctx, id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return User{}, errUnknownUser // the ID is the client's own: not echoed
	case err != nil:
		span.RecordError(err)
		span.SetStatus(codes.Error, "query failed")
		return User{}, fmt.Errorf("userservice: looking up user %q: %w", id, err)
	}
	// No ctx here either: the bridge's log handler, if installed, adds the
	// request's trace ID and user from the ambient scope.
	slog.Info("user found", "name", u.Name)
	return u, nil
}

// currentUserID returns the user ID of the request the calling goroutine
// works for, without a ctx.
func currentUserID() (string, bool) {
	id, _ := baggagebridge.Current(telemetry.UserKey)
	return id, id != ""
}

// Upstream is a stand-in for the external site the seed checks: it answers
// 204 No Content to every request, and counts the requests, and those that
// reached it carrying baggage or a userid header, which the egress policy
// must keep from it.
type Upstream struct {
	requests, leaks atomic.Int64
	held            atomic.Pointer[chan struct{}] // nil unless held
}

func (u *Upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.requests.Add(1)
	if r.Header.Get("Baggage") != "" || r.Header.Get(telemetry.LegacyUserHeader) != "" {
		u.leaks.Add(1)
	}
	if held := u.held.Load(); held != nil {
		select {
		case <-*held:
		case <-r.Context().Done():
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// Hold makes the upstream wait before it answers, until release is called,
// so that the requests that call it can be seen mid-flight. Calls of
// release after the first do nothing.
func (u *Upstream) Hold() (release func()) {
	held := make(chan struct{})
	u.held.Store(&held)
	return sync.OnceFunc(func() {
		u.held.Store(nil)
		close(held)
	})
}

// Requests returns the number of requests served.
func (u *Upstream) Requests() int64 { return u.requests.Load() }

// Leaks returns the number of requests that carried baggage or a userid
// header.
func (u *Upstream) Leaks() int64 { return u.leaks.Load() }
