package h1

import "errors"

// ErrIncomplete means the buffer ends before the message part does: read
// more and parse again from the start of the part.
var ErrIncomplete = errors.New("h1: incomplete")

// Error is a message refused, with the status a server answers it with.
// The values are package variables, so that refusing allocates nothing.
type Error struct {
	Status int
	Reason string
}

func (e *Error) Error() string { return "h1: " + e.Reason }

func bad(reason string) *Error { return &Error{Status: 400, Reason: reason} }

var (
	ErrRequestLine      = bad("malformed request line")
	ErrMethod           = bad("invalid method")
	ErrTarget           = bad("invalid request target")
	ErrVersion          = bad("malformed HTTP version")
	ErrVersionSupported = &Error{Status: 505, Reason: "HTTP version not supported"}
	ErrBareLF           = bad("line not ended by CRLF")
	ErrObsFold          = bad("obsolete line folding")
	ErrFieldName        = bad("invalid header field name (whitespace before the colon?)")
	ErrFieldValue       = bad("invalid byte in a header field value")
	ErrTooManyFields    = &Error{Status: 431, Reason: "too many header fields"}
	ErrHost             = bad("missing, repeated or invalid Host")
	ErrContentLength    = bad("repeated or invalid Content-Length")
	ErrTransferEncoding = bad("Transfer-Encoding other than a single final chunked")
	ErrTEAndCL          = bad("both Transfer-Encoding and Content-Length")
	ErrTEOnHTTP10       = bad("Transfer-Encoding in an HTTP/1.0 message")
	ErrConnection       = bad("invalid Connection header")
	ErrExpect           = &Error{Status: 417, Reason: "unsupported expectation"}
	ErrConnect          = &Error{Status: 405, Reason: "CONNECT is not supported"}
	ErrChunkSize        = bad("invalid chunk size")
	ErrChunkExtension   = bad("invalid chunk extension")
	ErrChunkEnd         = bad("chunk data not followed by CRLF")
	ErrTrailerField     = bad("a trailer field that frames or routes the message")
	ErrStatusLine       = bad("malformed status line")

	errTrailer = bad("Trailer names a field that frames the message")
)

// maxFields bounds the fields of one head, whatever their size.
const maxFields = 256
