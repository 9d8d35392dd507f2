//! A tiny JSON module, std only: escape strings, parse a document into a [`Value`], read fields, and
//! compare two documents structurally (whitespace and key order ignored, numbers by value).
//!
//! It is meant for the small documents Dapr samples exchange, not as a serde replacement. The file
//! stands alone (no `crate::` paths) so its unit tests also run natively:
//! `rustc --edition 2021 --test json.rs`.

use std::fmt;

/// Nesting deeper than this is refused, so hostile input cannot exhaust the (small) wasm stack.
pub const MAX_DEPTH: usize = 64;

/// A parsed JSON value.
///
/// `==` is structural: objects compare as maps (key order ignored; with duplicate keys the last one
/// counts, as in JavaScript), numbers by value (`1`, `1.0` and `1e0` are equal).
#[derive(Debug, Clone)]
pub enum Value {
    Null,
    Bool(bool),
    /// A number as written in the document (checked against the JSON grammar).
    Number(String),
    String(String),
    Array(Vec<Value>),
    /// Members in document order, duplicates kept.
    Object(Vec<(String, Value)>),
}

/// Why a document is not valid JSON: a message and the byte offset where parsing stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub offset: usize,
    pub msg: &'static str,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid JSON at byte {}: {}", self.offset, self.msg)
    }
}

impl std::error::Error for Error {}

/// `s` as a JSON string literal, quotes included: `Death Star` becomes `"Death Star"`.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_escaped(&mut out, s);
    out
}

/// Appends `s` as a JSON string literal to `out`.
pub fn write_escaped(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Parses a whole document (surrounding whitespace allowed, nothing else after the value).
pub fn parse(text: &str) -> Result<Value, Error> {
    let mut p = Parser { b: text.as_bytes(), i: 0 };
    let v = p.value(0)?;
    p.ws();
    if p.i != p.b.len() {
        return Err(p.err("unexpected text after the value"));
    }
    Ok(v)
}

/// True if `a` and `b` are the same JSON value (see [`Value`]'s `==`); an error if either is invalid.
pub fn equal(a: &str, b: &str) -> Result<bool, Error> {
    Ok(parse(a)? == parse(b)?)
}

impl Value {
    /// The member `key` of an object (the last one if repeated); None for other values.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => n.parse().ok(),
            _ => None,
        }
    }

    /// The number if it is written as an integer (no fraction, no exponent) that fits an i64.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.parse().ok(),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Compact JSON text (also what `to_string()` / `{}` give).
    pub fn to_json(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{}", b),
            Value::Number(n) => f.write_str(n),
            Value::String(s) => f.write_str(&escape(s)),
            Value::Array(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{}", v)?;
                }
                f.write_str("]")
            }
            Value::Object(members) => {
                f.write_str("{")?;
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{}:{}", escape(k), v)?;
                }
                f.write_str("}")
            }
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Number(a), Value::Number(b)) => a == b || a.parse::<f64>().ok() == b.parse::<f64>().ok(),
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Array(a), Value::Array(b)) => a == b,
            (Value::Object(a), Value::Object(_)) => {
                let keys = distinct_keys(a);
                keys.len() == distinct_keys_of(other)
                    && keys.iter().all(|k| match (self.get(k), other.get(k)) {
                        (Some(x), Some(y)) => x == y,
                        _ => false,
                    })
            }
            _ => false,
        }
    }
}

fn distinct_keys(members: &[(String, Value)]) -> Vec<&str> {
    let mut keys: Vec<&str> = members.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

fn distinct_keys_of(v: &Value) -> usize {
    match v {
        Value::Object(m) => distinct_keys(m).len(),
        _ => 0,
    }
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn err(&self, msg: &'static str) -> Error {
        Error { offset: self.i, msg }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn literal(&mut self, word: &'static str, v: Value) -> Result<Value, Error> {
        if self.b[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.err("unknown literal (want true, false or null)"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, Error> {
        if depth > MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        self.ws();
        match self.peek() {
            None => Err(self.err("unexpected end of input")),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("unexpected character")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, Error> {
        self.i += 1; // {
        let mut members = Vec::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a string key"));
            }
            let key = self.string()?;
            self.ws();
            if self.peek() != Some(b':') {
                return Err(self.err("expected ':' after the key"));
            }
            self.i += 1;
            let v = self.value(depth + 1)?;
            members.push((key, v));
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Value::Object(members));
                }
                _ => return Err(self.err("expected ',' or '}' in an object")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, Error> {
        self.i += 1; // [
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.err("expected ',' or ']' in an array")),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<Value, Error> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let int_start = self.i;
        match self.digits() {
            0 => return Err(self.err("expected a digit")),
            n if n > 1 && self.b[int_start] == b'0' => return Err(Error { offset: int_start, msg: "leading zero in a number" }),
            _ => {}
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.err("expected a digit after '.'"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("expected a digit in the exponent"));
            }
        }
        // The bytes are ASCII, so this slice is valid UTF-8.
        Ok(Value::Number(String::from_utf8_lossy(&self.b[start..self.i]).into_owned()))
    }

    fn hex4(&mut self) -> Result<u32, Error> {
        let hex = self.b.get(self.i..self.i + 4).ok_or_else(|| self.err("short \\u escape"))?;
        let s = std::str::from_utf8(hex).map_err(|_| self.err("bad \\u escape"))?;
        let v = u32::from_str_radix(s, 16).map_err(|_| self.err("bad \\u escape"))?;
        self.i += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, Error> {
        self.i += 1; // "
        let mut out = Vec::new();
        loop {
            let c = self.peek().ok_or_else(|| self.err("unterminated string"))?;
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let e = self.peek().ok_or_else(|| self.err("unterminated string"))?;
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{08}',
                        b'f' => '\u{0c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xd800..0xdc00).contains(&hi) {
                                if !self.b[self.i..].starts_with(b"\\u") {
                                    return Err(self.err("lone high surrogate"));
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&lo) {
                                    return Err(self.err("bad low surrogate"));
                                }
                                0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                            } else {
                                hi
                            };
                            char::from_u32(code).ok_or_else(|| self.err("lone low surrogate"))?
                        }
                        _ => return Err(self.err("unknown escape")),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                c if c < 0x20 => return Err(self.err("control character in a string")),
                c => out.push(c),
            }
        }
        // The input is a &str and escapes add whole characters, so this cannot fail.
        String::from_utf8(out).map_err(|_| self.err("invalid UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(escape("Death Star"), r#""Death Star""#);
        assert_eq!(escape("a\"b\\c\nd\te\u{1}"), r#""a\"b\\c\nd\te\u0001""#);
        assert_eq!(escape("é ☃ 😀"), "\"é ☃ 😀\"");
        for s in ["", "x", "\"\\\u{7f}\u{0}\r\u{2028}", "日本語 \u{1F600}"] {
            assert_eq!(parse(&escape(s)).unwrap().as_str(), Some(s), "round trip of {:?}", s);
        }
    }

    #[test]
    fn parses_a_flat_object() {
        let v = parse(" {\"id\" : \"o-1\", \"item\":\"lamp\",\n\"quantity\":3, \"ok\":true,\"x\":null} ").unwrap();
        assert_eq!(v.get("id").and_then(Value::as_str), Some("o-1"));
        assert_eq!(v.get("item").and_then(Value::as_str), Some("lamp"));
        assert_eq!(v.get("quantity").and_then(Value::as_i64), Some(3));
        assert_eq!(v.get("ok").and_then(Value::as_bool), Some(true));
        assert!(v.get("x").unwrap().is_null());
        assert!(v.get("missing").is_none());
        assert_eq!(parse("[]").unwrap().get("id"), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(parse("-12").unwrap().as_i64(), Some(-12));
        assert_eq!(parse("2.5").unwrap().as_i64(), None);
        assert_eq!(parse("2.5").unwrap().as_f64(), Some(2.5));
        assert_eq!(parse("1e3").unwrap().as_f64(), Some(1000.0));
        assert_eq!(parse("1e3").unwrap().as_i64(), None);
        assert_eq!(parse("99999999999999999999").unwrap().as_i64(), None);
        for bad in ["01", "-", "1.", ".5", "1e", "+1", "0x10", "NaN", "1.5e+"] {
            assert!(parse(bad).is_err(), "{} should be refused", bad);
        }
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(parse(r#""a\u00e9\n\/\ud83d\ude00""#).unwrap().as_str(), Some("aé\n/😀"));
        for bad in [r#""abc"#, r#""\x""#, r#""\ud83d""#, r#""\ude00""#, "\"a\u{1}\"", r#""\u12""#] {
            assert!(parse(bad).is_err(), "{} should be refused", bad);
        }
    }

    #[test]
    fn refuses_malformed_documents() {
        for bad in ["", " ", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "[1,]", "[1 2]", "{a:1}", "tru", "nul", "1 2", "{}x", "'a'"] {
            let e = parse(bad).unwrap_err();
            assert!(e.offset <= bad.len(), "{:?}: {}", bad, e);
        }
        assert_eq!(parse("{\"a\":1,}").unwrap_err().offset, 7);
        let deep = "[".repeat(MAX_DEPTH + 2) + &"]".repeat(MAX_DEPTH + 2);
        assert_eq!(parse(&deep).unwrap_err().msg, "nested too deeply");
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn structural_equality() {
        let want = r#"{"name":"Tatooine","test":123}"#;
        assert!(equal(want, " { \"test\" : 123.0 ,\n \"name\" : \"Tatooine\" } ").unwrap());
        assert!(equal(want, r#"{"name":"Tatooine","test":1.23e2}"#).unwrap());
        assert!(!equal(want, r#"{"name":"Tatooine","test":124}"#).unwrap());
        assert!(!equal(want, r#"{"name":"Tatooine","test":"123"}"#).unwrap());
        assert!(!equal(want, r#"{"name":"Tatooine"}"#).unwrap());
        assert!(!equal(want, r#"{"name":"Tatooine","test":123,"x":null}"#).unwrap());
        assert!(equal(r#"{"a":1,"a":2}"#, r#"{"a":2}"#).unwrap());
        assert!(equal("[1,[2,{\"b\":[]}]]", "[ 1 , [ 2 , { \"b\" : [ ] } ] ]").unwrap());
        assert!(!equal("[1,2]", "[2,1]").unwrap());
        assert!(!equal("null", "false").unwrap());
        assert!(!equal("{}", "[]").unwrap());
        assert!(equal("\"\\u0041\"", "\"A\"").unwrap());
        assert!(equal("{", "{}").is_err());
    }

    #[test]
    fn serializes_compactly() {
        let text = "{ \"id\": \"a\\\"b\", \"n\": [1, 2.5, -3e2], \"o\": {}, \"t\": true, \"z\": null }";
        let v = parse(text).unwrap();
        assert_eq!(v.to_json(), r#"{"id":"a\"b","n":[1,2.5,-3e2],"o":{},"t":true,"z":null}"#);
        assert_eq!(parse(&v.to_json()).unwrap(), v);
    }
}
