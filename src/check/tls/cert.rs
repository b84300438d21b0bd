//! The served certificate chain: its facts and its verdict.
