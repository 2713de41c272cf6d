// Package sim is a deterministic, in-process fake of the vendor APIs auditpull
// polls. It exists so that the core and the host plugins can be tested against
// every documented rule of a vendor — and against the ways real networks and
// gateways fail — without credentials, without a network and without waiting
// for real time to pass.
//
// The package is split into a vendor-independent framework and one file per
// vendor:
//
//   - clock.go: the Clock the simulators read "now" from (FakeClock for tests).
//   - store.go: the ground-truth Store, a time-sorted record history with
//     per-record visibility, from which vendors serve pages and against which
//     tests compare what a client delivered; storeseek.go pages it by key
//     or by offset under any filter.
//   - ties.go: the order a page serves records with equal times in.
//   - histgen.go: shared generation of realistic event times.
//   - readings.go: the choices every vendor makes where its document is
//     silent (Readings), and the gateway, clock and store they shape.
//   - ratelimit.go: per-client sliding-window rate limiting.
//   - faults.go: fault injection (latency, 5xx, 429, resets, broken bodies).
//   - gateway.go: the chain every data endpoint sits behind (request
//     counting, rate limit, faults).
//   - server.go: one http.Handler that mounts vendors under path prefixes.
//   - respond.go: what every vendor handler shares (JSON checks and
//     writes, the NordPass APIs' common limits).
//   - nordpass.go: NordPass Enterprise Activity Logs API.
//   - nordpassmsp.go: NordPass MSP Activity Log API (JWT verified with the
//     public key).
//   - oloid.go: OLOID login and List Activity Logs (/filterActivity).
//   - qualtrics.go: Qualtrics List Events (/logs), API token and OAuth.
//
// A new vendor is a new file: an http.Handler that embeds *Gateway, keeps its
// records in a *Store, and is mounted on a Server under its own prefix.
// Its Config embeds Readings, and builds the gateway, the API's clock and
// the store through them.
//
// # Readings: where the documents are silent
//
// Where a vendor document leaves a behaviour open, every reading of it is a
// switch, so that a client can be tested against each. The zero value of a
// switch is the reading the simulator always had, except
// OLOIDConfig.LoginShape, whose zero value is the shape OLOID documents.
// One entry per switch: the switch; its values; its default; the sentence
// it stems from, quoted from the seed (000 NordPass, 001 OLOID List
// Activity Logs, 002 Qualtrics List Events, 003 NordPass MSP).
//
// Every vendor (Readings, embedded in each Config):
//
//   - Readings.RateLimitScope; RateLimitPerIP, RateLimitPerCredential
//     (the client IP plus a digest of the credential header: Authorization
//     for NordPass, MSP and OLOID, X-API-TOKEN or else the bearer for
//     Qualtrics); default RateLimitPerIP; 000: "The API is limited to 2000
//     requests per 5 minutes per IP address." (001, 002 and 003 name no
//     limit).
//   - Readings.OmitRetryAfter; false (429 with Retry-After), true (without,
//     for the limiter's and FaultThrottle's 429s, login and token endpoints
//     included); default false; 000: "The API is limited to 2000 requests
//     per 5 minutes per IP address." (no seed says what a refused request
//     gets).
//   - Readings.ClockSkew; any duration, positive when the API's clock is
//     ahead of Config.Clock; default 0; 000: "timestamp_to is in the
//     future", 001: "If start and end are not provided, the API may return
//     the most recent activity logs up to the specified limit." (none says
//     whose clock decides what is the future or the most recent).
//   - Readings.Ties; TiesInsertionOrder, TiesReversed, TiesShuffled (a new
//     order at every request); default TiesInsertionOrder; 000: "The API
//     can return up to the 10,000 most recent activity log records", 002:
//     "Determines how the events are organized/ordered in the response, can
//     be asc or dsc" (neither orders records of the same time).
//
// NordPass and NordPass MSP (NordPassReadings, embedded in NordPassConfig
// and NordPassMSPConfig):
//
//   - NordPassReadings.FromExclusive and ToExclusive; false (inclusive),
//     true (exclusive), each; default both inclusive; 000: "This API allows
//     filtering by timestamp_from and timestamp_to."
//   - NordPassReadings.Total; NordPassTotalExact (every match, beyond the
//     cap), NordPassTotalCapped (at most Cap; total_pages follows),
//     NordPassTotalOmitted (no total, no total_pages); default
//     NordPassTotalExact; 000: `"total": integer` and "If the filtering
//     results exceed this limit, it will only return the most recent
//     10,000 results.", 003 (for the omitted shape): "After completing
//     these steps, you will be able to access logs via rest API." (the MSP
//     guide shows no response at all).
//   - NordPassReadings.StraddlingPage; NordPassStraddleTruncated (the
//     records within the cap), NordPassStraddleFull (the whole page),
//     NordPassStraddleRefused (400 with the cap reason); default
//     NordPassStraddleTruncated; 000: "The API can return up to the 10,000
//     most recent activity log records (e.g., requesting logs 9980-10050
//     will not return results)." Pages starting at or past the cap are
//     refused in every reading.
//   - NordPassReadings.RefusePastLastPage; false (200 with empty data),
//     true (400 "page value exceeds the total number of available pages";
//     page 1 is always answered); default false; 000: "The page number must
//     be at least 1 and cannot exceed the total number of available
//     pages."
//   - NordPassReadings.ServedPerPage; 0 (pages of the per_page asked), n
//     (at most n records a page whatever is asked, pages numbered in that
//     size, which metadata.per_page and total_pages follow); default 0; 000:
//     "You can manage the number of records returned by utilizing the
//     per_page filtering option, which allows for a range of 1 to 100
//     records per request.", 003 (the MSP API's page limits): "After
//     completing these steps, you will be able to access logs via rest
//     API."
//   - NordPassReadings.MillisecondTimestamps; false (a record's timestamp
//     in Unix seconds), true (in milliseconds; timestamp_from and
//     timestamp_to stay in seconds); default false; 000: `"timestamp":
//     integer` (no unit is named).
//   - NordPassReadings.UserFilter; MatchUser (the record's user),
//     MatchUserOrInitiator (its user or its initiator), MatchActor (its
//     initiator where it has one, else its user); default MatchUser; 000:
//     "The user_uuids is an optional filter that, if not provided, will
//     return information for all users based on other filter criteria."
//     (the answer names only "user"; 003 on the logs: "Every log entry
//     includes a timestamp, the action initiator, and the user's IP
//     address").
//
// OLOID (OLOIDConfig):
//
//   - LoginShape; OLOIDLoginCognito (cognitoToken{IdToken, AccessToken,
//     RefreshToken, ExpiresIn} and user{OloID, TenantID, TenantName}, as
//     OLOID's help pages document it), OLOIDLoginAuthenticationResult
//     (cognitoToken.AuthenticationResult, as another OLOID article nests
//     it), OLOIDLoginData (data{…}, message), OLOIDLoginFlat; default
//     OLOIDLoginCognito; 001: "This API requires authentication. Make sure
//     to include the necessary authentication headers when making the
//     request." (the login itself is not in the seed).
//   - LoginPath; OLOIDLoginPath ("/login"), OLOIDLoginPathCapitalized
//     ("/Login"), the other spelling answered 403 "Missing Authentication
//     Token" as API Gateway answers an unknown resource; default "/login";
//     001: "This API requires authentication. Make sure to include the
//     necessary authentication headers when making the request."
//   - StartExclusive and EndExclusive; false (inclusive), true
//     (exclusive), each; default both inclusive; 001: "start (number,
//     optional): Start timestamp for the activity log search range (in
//     milliseconds since epoch)." and "end (number, optional): End
//     timestamp for the activity log search range (in milliseconds since
//     epoch)."
//   - Ascending; false (newest first), true (oldest first); default false;
//     001: "If start and end are not provided, the API may return the most
//     recent activity logs up to the specified limit."
//   - NextTokenOnlyWhenMore; false (every full page carries a nextToken,
//     so the last page may be empty), true (only when more activities
//     follow); default false; 001: "nextToken (string): Token for
//     retrieving the next page of results."
//   - NoMoreToken; OLOIDNoMoreNull, OLOIDNoMoreEmpty (""), OLOIDNoMoreAbsent
//     (no nextToken field); default OLOIDNoMoreNull; 001: "nextToken
//     (string): Token for retrieving the next page of results." and "The
//     actual response structure may vary."
//   - Shape; OLOIDShapeData (data{activities, nextToken}, as documented),
//     OLOIDShapeTop (both at the top level), OLOIDShapeMixed
//     (data{activities} with the nextToken beside data); default
//     OLOIDShapeData; 001: "The actual response structure may vary."
//   - LimitCapsQuery; false (limit is a page's size), true (limit caps the
//     whole query: its first limit activities and no nextToken); default
//     false; 001: "limit (number, optional): Maximum number of results to
//     return."
//
// Qualtrics (QualtricsConfig):
//
//   - NextPageAsToken; false (nextPage is a full URL), true (the bare
//     skipToken); default false; 002: "It contains the next page token
//     value returned by a previous call to this method."
//   - NextPageOnFullPage; false (nextPage null once no events remain),
//     true (every full page carries one, so the last page may be empty);
//     default false; 002: "Using this field causes the method to return
//     additional results from the previous method call"
//   - Timestamps; QualtricsTimestampsZ (2020-11-13T19:13:40.793Z),
//     QualtricsTimestampsBasicOffset (two hours east of UTC with a basic
//     offset: 2020-11-13T21:13:40.793+0200); default QualtricsTimestampsZ;
//     002: `"timestamp":"2020-11-13T19:13:40.793Z"` (the example is the
//     only form shown; no format is named)
package sim
