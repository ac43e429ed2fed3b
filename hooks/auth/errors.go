package auth

import "errors"

// Reasons returned by ReasonOf. Each is a short, fixed, low-cardinality label that is
// safe for metrics and logs: it never carries the token or a claim value.
const (
	ReasonMissing       = "missing"          // no Authorization header
	ReasonMalformed     = "malformed"        // not "Bearer <compact JWS>", bad base64/JSON, crit header, oversized
	ReasonAlg           = "alg"              // alg absent, none, HS*, unknown, or not allowed for this client
	ReasonTyp           = "typ"              // typ header present and not "JWT"
	ReasonIss           = "iss"              // iss absent or not a configured client
	ReasonTenant        = "tenant"           // tenant does not match the configured client
	ReasonKid           = "kid"              // kid absent, not in the client's key set, or key unfit for alg
	ReasonJKU           = "jku"              // jku header not allowlisted for this iss (nothing was fetched)
	ReasonJWKSUnavail   = "jwks-unavailable" // the client's JWK Set could not be fetched and none is cached
	ReasonSignature     = "signature"        // signature does not verify with the selected key
	ReasonAud           = "aud"              // aud absent or not the endpoint invoked
	ReasonExpired       = "expired"          // exp in the past (beyond skew)
	ReasonExpMissing    = "exp-missing"      // exp absent
	ReasonNotYetValid   = "not-yet-valid"    // nbf in the future (beyond skew)
	ReasonIatFuture     = "iat-future"       // iat in the future (beyond skew)
	ReasonIatMissing    = "iat-missing"      // iat absent
	ReasonLifetime      = "lifetime"         // exp further in the future than Options.MaxTokenLifetime
	ReasonJTIMissing    = "jti-missing"      // jti absent or empty
	ReasonReplay        = "replay"           // jti already seen from this iss within the token lifetime
	ReasonReplayUnavail = "replay-cache-unavailable"
	ReasonInternal      = "internal" // a non-auth error (programming or configuration error)
)

// Error is an authentication failure. Its message never contains the token or a claim
// value; Issuer is set only when the token named a configured client.
type Error struct {
	Reason string // one of the Reason* constants
	Issuer string // the configured client's iss, or "" when unknown
	msg    string
	err    error // an infrastructure cause (fetch, Redis); never token material
}

func (e *Error) Error() string {
	s := "auth: " + e.Reason + ": " + e.msg
	if e.err != nil {
		s += ": " + e.err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.err }

func fail(reason, msg string) *Error { return &Error{Reason: reason, msg: msg} }

// ReasonOf returns a short, low-cardinality reason for an authentication error
// ("missing", "malformed", "expired", ...), safe for metrics and logs. It returns ""
// for a nil error and "internal" for an error that did not come from this package.
func ReasonOf(err error) string {
	if err == nil {
		return ""
	}
	var ae *Error
	if errors.As(err, &ae) {
		return ae.Reason
	}
	return ReasonInternal
}
