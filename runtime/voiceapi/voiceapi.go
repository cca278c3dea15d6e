// Package voiceapi places calls through 8x8's Callflows API: it POSTs a callflow that
// starts with makeCall, 8x8 dials the number and, once someone answers, runs the rest
// of the callflow and sends the call's webhooks to the URL set up for the sub-account.
//
// A placed call cannot be taken back, and sending the same callflow twice rings the
// phone twice. So the client is careful about one thing above all: it sends a callflow
// again only when 8x8 certainly did not place the first one (see Client.Send), and
// when it cannot know, its error says so (ErrOutcomeUnknown).
package voiceapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/luaivr/luaivr/runtime/callflow"
)

// DefaultBase is where 8x8 serves the Voice API.
const DefaultBase = "https://voice.8x8.com"

// maxAnswer bounds what we read of an answer: 8x8's are a few hundred bytes, and a
// misconfigured base URL must not make us swallow a whole web page.
const maxAnswer = 1 << 20

// ErrOutcomeUnknown is wrapped by the errors of a Send after which the call may or may
// not exist: the request may have reached 8x8 but no usable answer came back (a
// timeout, a reset connection, a gateway's error page). Sending again could place a
// second call, so Send does not, and neither should its caller without first looking
// for the call's webhooks.
var ErrOutcomeUnknown = errors.New("the call may or may not have been placed")

// subAccountRE is 8x8's own pattern for the subAccountId path parameter.
var subAccountRE = regexp.MustCompile(`^[A-Za-z0-9\-._&]{3,50}$`)

// Options configure a Client. Only APIKey and SubAccount are required.
type Options struct {
	// Base is the scheme and host of the API (a path prefix is kept);
	// DefaultBase when empty. Tests point it at a fake.
	Base string
	// APIKey is the sub-account's API key, sent as a Bearer token.
	APIKey string
	// SubAccount is the id of the 8x8 sub-account that places the calls.
	SubAccount string
	// HTTP sends the requests; nil means a client with a 15 s timeout per attempt
	// that does not follow redirects (8x8 does not redirect its API, and following a
	// 301 or 302 would turn the POST into a GET without the callflow).
	HTTP *http.Client
	// Retries is how many more times a callflow is sent after an attempt that 8x8
	// certainly did not act on; 0 means 2, a negative value means never.
	Retries int
	// Backoff is the wait before the first retry, doubled before each next one;
	// 0 means 500 ms.
	Backoff time.Duration
	// Logger gets a line per attempt; nil discards them.
	Logger *slog.Logger
}

// Client sends callflows to one 8x8 sub-account. It is safe for concurrent use.
type Client struct {
	endpoint   string
	base       string
	subAccount string
	apiKey     string
	http       *http.Client
	retries    int
	backoff    time.Duration
	log        *slog.Logger
}

// New checks the options and returns a client. Its errors name the setting to fix,
// since they are usually the first thing a person sees when trying `luaivr call`.
func New(opts Options) (*Client, error) {
	switch {
	case opts.SubAccount == "":
		return nil, errors.New("no 8x8 sub-account: set LUAIVR_SUBACCOUNT or --subaccount to the sub-account id shown in connect.8x8.com")
	case !subAccountRE.MatchString(opts.SubAccount):
		return nil, fmt.Errorf("8x8 sub-account %q is not a sub-account id (3 to 50 letters, digits or -._&): check LUAIVR_SUBACCOUNT or --subaccount", opts.SubAccount)
	case opts.APIKey == "":
		return nil, errors.New("no 8x8 API key: set LUAIVR_API_KEY or --api-key (keys are made in connect.8x8.com)")
	case strings.ContainsFunc(opts.APIKey, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		// A key pasted with its newline would fail later as an obscure header error.
		return nil, errors.New("the 8x8 API key contains spaces or control characters (a trailing newline?): check LUAIVR_API_KEY or --api-key")
	}
	base := strings.TrimRight(opts.Base, "/")
	if base == "" {
		base = DefaultBase
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("8x8 API base URL %q: want an http(s) URL such as %s", opts.Base, DefaultBase)
	}
	c := &Client{
		endpoint:   base + "/api/v1/subaccounts/" + url.PathEscape(opts.SubAccount) + "/callflows",
		base:       base,
		subAccount: opts.SubAccount,
		apiKey:     opts.APIKey,
		http:       opts.HTTP,
		retries:    opts.Retries,
		backoff:    opts.Backoff,
		log:        opts.Logger,
	}
	if c.http == nil {
		c.http = &http.Client{
			Timeout:       15 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if c.retries == 0 {
		c.retries = 2
	}
	if c.backoff <= 0 {
		c.backoff = 500 * time.Millisecond
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Created is 8x8's answer when it accepted the callflow and is placing the call.
type Created struct {
	// SessionID names the call's session in every webhook 8x8 sends about it.
	SessionID string
	// RequestID is 8x8's callFlowRequestId, what its support asks for.
	RequestID string
	// ValidUntil is when the session expires, as 8x8 wrote it; often empty.
	ValidUntil string
}

// Send places a call: it checks the callflow, POSTs it to 8x8 and returns the session
// 8x8 created.
//
// A callflow that breaks a rule we know (the first action must be makeCall, …) is
// returned as the *callflow.Invalid of callflow.Check, and nothing is sent.
//
// When is it safe to send again? Only when 8x8 certainly did not place the call,
// because a second POST of a callflow that 8x8 did place rings the phone a second
// time. That is the case in exactly two situations, and Send retries (with a doubling
// backoff, as long as ctx lasts) in those only:
//
//   - the request never left: the connection could not be made (a dial error:
//     refused, unreachable, DNS), or the transport failed before writing the request;
//   - 8x8 answered NOT_CREATED and says the failure was its own (HTTP 5xx, statusCode
//     500 or -9999), which a later attempt may not hit.
//
// Any other failure is returned at once: a 4xx NOT_CREATED will not change by
// itself, and a timeout, a reset connection or an answer that is not 8x8's after the
// request was written leaves the call's existence unknown (ErrOutcomeUnknown).
// NOT_CREATED answers are returned as *APIError.
func (c *Client) Send(ctx context.Context, cf []callflow.Action) (Created, error) {
	if err := callflow.Check(cf, callflow.AsPlaced); err != nil {
		return Created{}, err
	}
	body, err := callflow.Reply{Callflow: cf}.MarshalJSON()
	if err != nil {
		return Created{}, fmt.Errorf("encoding the callflow for 8x8: %w", err)
	}
	wait := c.backoff
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return Created{}, fmt.Errorf("the callflow was not sent to 8x8: %w", err)
		}
		c.log.Debug("sending callflow to 8x8", "url", c.endpoint, "attempt", attempt, "actions", len(cf))
		created, retry, err := c.post(ctx, body)
		if err == nil {
			c.log.Info("8x8 created the call", "session", created.SessionID, "request", created.RequestID, "attempt", attempt)
			return created, nil
		}
		if !retry || attempt > c.retries {
			c.log.Warn("placing the call failed", "attempt", attempt, "err", err)
			if attempt > 1 {
				err = fmt.Errorf("%w (gave up after %d attempts)", err, attempt)
			}
			return Created{}, err
		}
		c.log.Warn("8x8 did not create the call; sending again", "attempt", attempt, "in", wait, "err", err)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return Created{}, fmt.Errorf("%w; stopped retrying: %w", err, ctx.Err())
		case <-timer.C:
		}
		wait *= 2
	}
}

// post makes one attempt. retry reports whether 8x8 certainly did not act on it, so
// that another attempt is safe.
func (c *Client) post(ctx context.Context, body []byte) (created Created, retry bool, err error) {
	// The trace tells whether the request was written: a transport that reports
	// getting a connection but never wrote the headers sent nothing. A transport that
	// does not report at all counts as having written.
	var gotToConn, wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GetConn:      func(string) { gotToConn.Store(true) },
		WroteHeaders: func() { wrote.Store(true) },
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return Created{}, false, fmt.Errorf("building the request to 8x8: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.apiKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "luaivr")

	resp, err := c.http.Do(req)
	if err != nil {
		var op *net.OpError
		if (errors.As(err, &op) && op.Op == "dial") || (gotToConn.Load() && !wrote.Load()) {
			return Created{}, true, fmt.Errorf("could not reach 8x8 at %s, so the call was not placed: %w", c.base, err)
		}
		return Created{}, false, fmt.Errorf("sending the callflow to 8x8 failed once it may have arrived (%w), so %w: look for the call's webhooks before sending it again", err, ErrOutcomeUnknown)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return Created{}, false, fmt.Errorf("8x8 answered HTTP %d but the answer was cut short (%w), so %w: look for the call's webhooks before sending it again", resp.StatusCode, err, ErrOutcomeUnknown)
	}
	return c.read(resp, data)
}

// answer is the body of every documented answer, CREATED or NOT_CREATED.
type answer struct {
	SessionID     string `json:"sessionId"`
	SessionStatus string `json:"sessionStatus"`
	RequestID     string `json:"callFlowRequestId"`
	ValidUntil    string `json:"validUntil"`
	StatusCode    int    `json:"statusCode"`
	StatusMessage string `json:"statusMessage"`
}

// read turns an answer into a Created or an *APIError.
func (c *Client) read(resp *http.Response, data []byte) (Created, bool, error) {
	var a answer
	if len(data) > maxAnswer || json.Unmarshal(data, &a) != nil ||
		(a.SessionStatus != "CREATED" && a.SessionStatus != "NOT_CREATED") {
		return Created{}, false, c.unexpected(resp, data)
	}
	if a.SessionStatus == "CREATED" {
		// 8x8 says the call exists: believe it whatever the HTTP status, since an
		// error here would invite a second call.
		if resp.StatusCode/100 != 2 {
			c.log.Warn("8x8 answered CREATED with an error status", "status", resp.StatusCode, "session", a.SessionID)
		}
		return Created{SessionID: a.SessionID, RequestID: a.RequestID, ValidUntil: a.ValidUntil}, false, nil
	}
	e := &APIError{
		HTTPStatus:    resp.StatusCode,
		StatusCode:    a.StatusCode,
		StatusMessage: a.StatusMessage,
		RequestID:     a.RequestID,
	}
	if e.StatusMessage == "" {
		e.StatusMessage = callflow.StatusMessage(a.StatusCode)
	}
	e.Hint = c.hint(e)
	retry := resp.StatusCode >= 500 || a.StatusCode == 500 || a.StatusCode == -9999
	return Created{}, retry, e
}

// unexpected describes an answer that is not one of 8x8's: a proxy's error page, a
// wrong base URL, an outage. The request did arrive somewhere, so whether 8x8 placed
// the call is unknown.
func (c *Client) unexpected(resp *http.Response, data []byte) *APIError {
	hint := "That is not an answer of the 8x8 Callflows API: check the API base URL (" + c.base + "). " +
		"If it is right, 8x8 or something in between failed, and the call may or may not have been placed: look for its webhooks before sending it again."
	if loc := resp.Header.Get("Location"); resp.StatusCode/100 == 3 && loc != "" {
		hint = "The API base URL (" + c.base + ") redirects to " + loc + ": set it to where the API really is."
	}
	return &APIError{HTTPStatus: resp.StatusCode, StatusMessage: snippet(data), Hint: hint, unexpected: true}
}

// snippet is the first 200 bytes of an answer on one line, for an error message.
func snippet(data []byte) string {
	if len(data) > 200 {
		data = data[:200]
	}
	return strings.Join(strings.Fields(strings.ToValidUTF8(string(data), "")), " ")
}
