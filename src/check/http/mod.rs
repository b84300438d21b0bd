//! Parsers of the HTTP response headers posture grades, shared by the scan and `posture parse`.
