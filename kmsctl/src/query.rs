//! `--query`: the subset of JMESPath that AWS CLI scripts commonly use.
//!
//! Supported: member names (bare or `"quoted"`), `.` sub-expressions, `[N]`
//! and `[-N]` indexes, `[*]` and `.*` projections, `[]` flatten, `[?cond]`
//! filters with `==`, `!=`, `<`, `<=`, `>`, `>=`, `&&`, `||`, `!` and
//! parentheses, `'raw strings'` and `` `json literals` ``, `@`, multi-select
//! lists `[a, b]` and hashes `{k: a}`, `|` pipes, and the functions length,
//! contains, starts_with, ends_with, join, keys, values, sort, reverse,
//! to_string, type and not_null. Not supported (an error, never a wrong
//! answer): slices, `&expression` references and the functions needing them.
//!
//! The parser follows jmespath.py's Pratt parser so projections bind the way
//! the AWS CLI's do. It works on [`Value`], kmsctl's ordered output tree, and
//! knows nothing about KMS.

use super::output::Value;

/// Longest query accepted, in tokens; bounds parser and evaluator recursion.
const MAX_TOKENS: usize = 1024;

/// A parsed `--query` expression.
#[derive(Debug, Clone)]
pub struct Query {
    ast: Node,
}

/// A `--query` expression that kmsctl cannot parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Bad value for --query {expression}: {message}")]
pub struct QueryError {
    /// The expression as given.
    pub expression: String,
    /// What is wrong with it.
    pub message: String,
}

impl Query {
    /// Parses an expression.
    pub fn parse(expression: &str) -> Result<Self, QueryError> {
        let err = |message: String| QueryError {
            expression: expression.to_owned(),
            message,
        };
        let tokens = lex(expression).map_err(err)?;
        if tokens.len() > MAX_TOKENS {
            return Err(err(format!(
                "expression too long (over {MAX_TOKENS} tokens)"
            )));
        }
        let mut parser = Parser { tokens, pos: 0 };
        let ast = parser.expression(0).map_err(err)?;
        match parser.peek() {
            Tok::Eof => Ok(Self { ast }),
            other => Err(err(format!(
                "unexpected {} after the expression",
                other.describe()
            ))),
        }
    }

    /// Evaluates the expression against `value`; missing members, indexes
    /// out of range and type mismatches give [`Value::Null`], as in JMESPath.
    pub fn search(&self, value: &Value) -> Value {
        eval(&self.ast, value)
    }
}

// ---------------------------------------------------------------- lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Num(i64),
    Lit(Value),
    Dot,
    Star,
    Flatten,
    LBracket,
    Filter,
    RBracket,
    LBrace,
    RBrace,
    LParen,
    RParen,
    Comma,
    Colon,
    Pipe,
    Or,
    And,
    Not,
    Cmp(CmpOp),
    At,
    Eof,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("identifier \"{s}\""),
            Tok::Num(n) => format!("number {n}"),
            Tok::Lit(_) => "literal".to_owned(),
            Tok::Eof => "end of expression".to_owned(),
            Tok::Cmp(op) => format!("'{}'", op.symbol()),
            other => format!("'{}'", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Tok::Dot => ".",
            Tok::Star => "*",
            Tok::Flatten => "[]",
            Tok::LBracket => "[",
            Tok::Filter => "[?",
            Tok::RBracket => "]",
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::Comma => ",",
            Tok::Colon => ":",
            Tok::Pipe => "|",
            Tok::Or => "||",
            Tok::And => "&&",
            Tok::Not => "!",
            Tok::At => "@",
            _ => "?",
        }
    }

    /// jmespath.py's binding powers.
    fn binding_power(&self) -> u8 {
        match self {
            Tok::Pipe => 1,
            Tok::Or => 2,
            Tok::And => 3,
            Tok::Cmp(_) => 5,
            Tok::Flatten => 9,
            Tok::Star => 20,
            Tok::Filter => 21,
            Tok::Dot => 40,
            Tok::Not => 45,
            Tok::LBrace => 50,
            Tok::LBracket => 55,
            Tok::LParen => 60,
            _ => 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// Reads a delimited string starting after the opening `delim`; a backslash
/// escapes the delimiter (and, for raw strings, a backslash). Returns the
/// text between the delimiters and the index after the closing delimiter.
/// Escapes are resolved for `'` and `` ` ``; for `"` they are kept, as the
/// text is then read as a JSON string.
fn read_delimited(chars: &[char], start: usize, delim: char) -> Result<(String, usize), String> {
    let mut i = start;
    let mut out = String::new();
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() && chars[i + 1] == delim && delim != '"' {
            out.push(delim);
            i += 2;
        } else if c == '\\' && i + 1 < chars.len() && delim == '\'' && chars[i + 1] == '\\' {
            out.push('\\');
            i += 2;
        } else if c == '\\' && i + 1 < chars.len() {
            out.push(c);
            out.push(chars[i + 1]);
            i += 2;
        } else if c == delim {
            return Ok((out, i + 1));
        } else {
            out.push(c);
            i += 1;
        }
    }
    Err(format!("unterminated {delim}...{delim}"))
}

fn lex(input: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if out.len() > MAX_TOKENS {
            break;
        }
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                i += 1;
                continue;
            }
            'a'..='z' | 'A'..='Z' | '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push(Tok::Ident(chars[start..i].iter().collect()));
                continue;
            }
            '0'..='9' | '-' => {
                let start = i;
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                let n = text
                    .parse::<i64>()
                    .map_err(|_| format!("bad number \"{text}\" at position {start}"))?;
                out.push(Tok::Num(n));
                continue;
            }
            '"' => {
                let (raw, end) = read_delimited(&chars, i + 1, '"')?;
                let name: String = serde_json::from_str(&format!("\"{raw}\""))
                    .map_err(|e| format!("bad quoted identifier at position {i}: {e}"))?;
                out.push(Tok::Ident(name));
                i = end;
                continue;
            }
            '\'' => {
                let (raw, end) = read_delimited(&chars, i + 1, '\'')?;
                out.push(Tok::Lit(Value::Str(raw)));
                i = end;
                continue;
            }
            '`' => {
                let (raw, end) = read_delimited(&chars, i + 1, '`')?;
                let lit = match serde_json::from_str::<serde_json::Value>(&raw) {
                    Ok(v) => Value::from_json(v),
                    // jmespath.py's legacy behaviour: a bare word is a string.
                    Err(_) => Value::Str(raw.trim().to_owned()),
                };
                out.push(Tok::Lit(lit));
                i = end;
                continue;
            }
            _ => {}
        }
        let (tok, len) = match (c, next) {
            ('.', _) => (Tok::Dot, 1),
            ('*', _) => (Tok::Star, 1),
            ('[', Some(']')) => (Tok::Flatten, 2),
            ('[', Some('?')) => (Tok::Filter, 2),
            ('[', _) => (Tok::LBracket, 1),
            (']', _) => (Tok::RBracket, 1),
            ('{', _) => (Tok::LBrace, 1),
            ('}', _) => (Tok::RBrace, 1),
            ('(', _) => (Tok::LParen, 1),
            (')', _) => (Tok::RParen, 1),
            (',', _) => (Tok::Comma, 1),
            (':', _) => (Tok::Colon, 1),
            ('@', _) => (Tok::At, 1),
            ('|', Some('|')) => (Tok::Or, 2),
            ('|', _) => (Tok::Pipe, 1),
            ('&', Some('&')) => (Tok::And, 2),
            ('!', Some('=')) => (Tok::Cmp(CmpOp::Ne), 2),
            ('!', _) => (Tok::Not, 1),
            ('=', Some('=')) => (Tok::Cmp(CmpOp::Eq), 2),
            ('<', Some('=')) => (Tok::Cmp(CmpOp::Le), 2),
            ('<', _) => (Tok::Cmp(CmpOp::Lt), 1),
            ('>', Some('=')) => (Tok::Cmp(CmpOp::Ge), 2),
            ('>', _) => (Tok::Cmp(CmpOp::Gt), 1),
            ('&', _) => return Err("expression references (&) are not supported".to_owned()),
            _ => return Err(format!("unexpected character '{c}' at position {i}")),
        };
        out.push(tok);
        i += len;
    }
    out.push(Tok::Eof);
    Ok(out)
}

// ---------------------------------------------------------------- parser

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Identity,
    Field(String),
    Index(i64),
    Literal(Value),
    Sub(Box<Node>, Box<Node>),
    Pipe(Box<Node>, Box<Node>),
    /// List projection: `lhs[*]rhs`.
    Projection(Box<Node>, Box<Node>),
    /// Object-values projection: `lhs.*rhs`.
    ValueProjection(Box<Node>, Box<Node>),
    /// `lhs[?cond]rhs`.
    Filter(Box<Node>, Box<Node>, Box<Node>),
    Flatten(Box<Node>),
    Or(Box<Node>, Box<Node>),
    And(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Cmp(CmpOp, Box<Node>, Box<Node>),
    MultiList(Vec<Node>),
    MultiHash(Vec<(String, Node)>),
    Function(Func, Vec<Node>),
}

/// The JMESPath built-in functions kmsctl supports (those that need no
/// `&expression` arguments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Length,
    Contains,
    StartsWith,
    EndsWith,
    Join,
    Keys,
    Values,
    Sort,
    Reverse,
    ToString,
    Type,
    NotNull,
}

impl Func {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "length" => Func::Length,
            "contains" => Func::Contains,
            "starts_with" => Func::StartsWith,
            "ends_with" => Func::EndsWith,
            "join" => Func::Join,
            "keys" => Func::Keys,
            "values" => Func::Values,
            "sort" => Func::Sort,
            "reverse" => Func::Reverse,
            "to_string" => Func::ToString,
            "type" => Func::Type,
            "not_null" => Func::NotNull,
            _ => return None,
        })
    }

    /// Whether `n` arguments are acceptable.
    fn arity_ok(self, n: usize) -> bool {
        match self {
            Func::Contains | Func::StartsWith | Func::EndsWith | Func::Join => n == 2,
            Func::NotNull => n >= 1,
            _ => n == 1,
        }
    }
}

struct Parser {
    tokens: Vec<Tok>,
    pos: usize,
}

/// Projections stop at tokens binding weaker than this (jmespath.py).
const PROJECTION_STOP: u8 = 10;

impl Parser {
    fn peek(&self) -> &Tok {
        self.tokens.get(self.pos).unwrap_or(&Tok::Eof)
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        self.tokens.get(self.pos + ahead).unwrap_or(&Tok::Eof)
    }

    fn advance(&mut self) -> Tok {
        let tok = self.peek().clone();
        if self.pos < self.tokens.len() {
            self.pos += 1;
        }
        tok
    }

    fn expect(&mut self, want: &Tok) -> Result<(), String> {
        let got = self.advance();
        if &got == want {
            Ok(())
        } else {
            Err(format!(
                "expected {}, found {}",
                want.describe(),
                got.describe()
            ))
        }
    }

    fn expression(&mut self, rbp: u8) -> Result<Node, String> {
        let tok = self.advance();
        let mut left = self.nud(tok)?;
        while rbp < self.peek().binding_power() {
            let tok = self.advance();
            left = self.led(tok, left)?;
        }
        Ok(left)
    }

    fn nud(&mut self, tok: Tok) -> Result<Node, String> {
        Ok(match tok {
            Tok::Lit(v) => Node::Literal(v),
            Tok::Ident(name) => Node::Field(name),
            Tok::At => Node::Identity,
            Tok::Star => {
                let right = if self.peek() == &Tok::RBracket {
                    Node::Identity
                } else {
                    self.projection_rhs(Tok::Star.binding_power())?
                };
                Node::ValueProjection(Box::new(Node::Identity), Box::new(right))
            }
            Tok::Filter => self.filter(Node::Identity)?,
            Tok::LBrace => self.multi_select_hash()?,
            Tok::LParen => {
                let inner = self.expression(0)?;
                self.expect(&Tok::RParen)?;
                inner
            }
            Tok::Flatten => {
                let left = Node::Flatten(Box::new(Node::Identity));
                let right = self.projection_rhs(Tok::Flatten.binding_power())?;
                Node::Projection(Box::new(left), Box::new(right))
            }
            Tok::Not => Node::Not(Box::new(self.expression(Tok::Not.binding_power())?)),
            Tok::LBracket => match (self.peek(), self.peek_at(1)) {
                (Tok::Num(_) | Tok::Colon, _) => {
                    let index = self.index_expression()?;
                    Node::Sub(Box::new(Node::Identity), Box::new(index))
                }
                (Tok::Star, Tok::RBracket) => {
                    self.advance();
                    self.advance();
                    let right = self.projection_rhs(Tok::Star.binding_power())?;
                    Node::Projection(Box::new(Node::Identity), Box::new(right))
                }
                _ => self.multi_select_list()?,
            },
            Tok::Eof => return Err("unexpected end of expression".to_owned()),
            other => return Err(format!("unexpected {}", other.describe())),
        })
    }

    fn led(&mut self, tok: Tok, left: Node) -> Result<Node, String> {
        let bp = tok.binding_power();
        Ok(match tok {
            Tok::Dot => {
                if self.peek() == &Tok::Star {
                    self.advance();
                    let right = self.projection_rhs(bp)?;
                    Node::ValueProjection(Box::new(left), Box::new(right))
                } else {
                    let right = self.dot_rhs(bp)?;
                    Node::Sub(Box::new(left), Box::new(right))
                }
            }
            Tok::Pipe => Node::Pipe(Box::new(left), Box::new(self.expression(bp)?)),
            Tok::Or => Node::Or(Box::new(left), Box::new(self.expression(bp)?)),
            Tok::And => Node::And(Box::new(left), Box::new(self.expression(bp)?)),
            Tok::Cmp(op) => Node::Cmp(op, Box::new(left), Box::new(self.expression(bp)?)),
            Tok::Filter => self.filter(left)?,
            Tok::Flatten => {
                let left = Node::Flatten(Box::new(left));
                let right = self.projection_rhs(bp)?;
                Node::Projection(Box::new(left), Box::new(right))
            }
            Tok::LBracket => {
                if matches!(self.peek(), Tok::Num(_) | Tok::Colon) {
                    let index = self.index_expression()?;
                    Node::Sub(Box::new(left), Box::new(index))
                } else {
                    self.expect(&Tok::Star)?;
                    self.expect(&Tok::RBracket)?;
                    let right = self.projection_rhs(Tok::Star.binding_power())?;
                    Node::Projection(Box::new(left), Box::new(right))
                }
            }
            Tok::LParen => {
                let Node::Field(name) = left else {
                    return Err("'(' must follow a function name".to_owned());
                };
                let func = Func::from_name(&name)
                    .ok_or_else(|| format!("unknown or unsupported function {name}()"))?;
                let mut args = Vec::new();
                if self.peek() == &Tok::RParen {
                    self.advance();
                } else {
                    loop {
                        args.push(self.expression(0)?);
                        match self.advance() {
                            Tok::Comma => continue,
                            Tok::RParen => break,
                            other => {
                                return Err(format!(
                                    "expected ',' or ')', found {}",
                                    other.describe()
                                ))
                            }
                        }
                    }
                }
                if !func.arity_ok(args.len()) {
                    return Err(format!("wrong number of arguments to {name}()"));
                }
                Node::Function(func, args)
            }
            other => return Err(format!("unexpected {}", other.describe())),
        })
    }

    fn filter(&mut self, left: Node) -> Result<Node, String> {
        let cond = self.expression(0)?;
        self.expect(&Tok::RBracket)?;
        let right = if self.peek() == &Tok::Flatten {
            Node::Identity
        } else {
            self.projection_rhs(Tok::Filter.binding_power())?
        };
        Ok(Node::Filter(
            Box::new(left),
            Box::new(right),
            Box::new(cond),
        ))
    }

    /// After `[`: `N]`. Slices are refused.
    fn index_expression(&mut self) -> Result<Node, String> {
        if self.peek() == &Tok::Colon || self.peek_at(1) == &Tok::Colon {
            return Err("slices are not supported".to_owned());
        }
        match self.advance() {
            Tok::Num(n) => {
                self.expect(&Tok::RBracket)?;
                Ok(Node::Index(n))
            }
            other => Err(format!("expected an index, found {}", other.describe())),
        }
    }

    fn projection_rhs(&mut self, rbp: u8) -> Result<Node, String> {
        match self.peek() {
            t if t.binding_power() < PROJECTION_STOP => Ok(Node::Identity),
            Tok::LBracket | Tok::Filter => self.expression(rbp),
            Tok::Dot => {
                self.advance();
                self.dot_rhs(rbp)
            }
            other => Err(format!(
                "unexpected {} after a projection",
                other.describe()
            )),
        }
    }

    fn dot_rhs(&mut self, rbp: u8) -> Result<Node, String> {
        match self.peek() {
            Tok::Ident(_) | Tok::Star => self.expression(rbp),
            Tok::LBracket => {
                self.advance();
                self.multi_select_list()
            }
            Tok::LBrace => {
                self.advance();
                self.multi_select_hash()
            }
            other => Err(format!(
                "expected a member name after '.', found {}",
                other.describe()
            )),
        }
    }

    /// After `[`: `a, b, ...]`.
    fn multi_select_list(&mut self) -> Result<Node, String> {
        let mut items = Vec::new();
        loop {
            items.push(self.expression(0)?);
            if self.peek() == &Tok::RBracket {
                self.advance();
                return Ok(Node::MultiList(items));
            }
            self.expect(&Tok::Comma)?;
        }
    }

    /// After `{`: `key: expr, ...}`.
    fn multi_select_hash(&mut self) -> Result<Node, String> {
        let mut pairs = Vec::new();
        loop {
            let key = match self.advance() {
                Tok::Ident(name) => name,
                other => return Err(format!("expected a key name, found {}", other.describe())),
            };
            self.expect(&Tok::Colon)?;
            pairs.push((key, self.expression(0)?));
            match self.advance() {
                Tok::Comma => continue,
                Tok::RBrace => return Ok(Node::MultiHash(pairs)),
                other => return Err(format!("expected ',' or '}}', found {}", other.describe())),
            }
        }
    }
}

// ---------------------------------------------------------------- evaluation

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Str(s) => !s.is_empty(),
        Value::List(items) => !items.is_empty(),
        Value::Obj(members) => !members.is_empty(),
        Value::Int(_) | Value::Float(_) => true,
    }
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Int(n) => Some(*n as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

/// JSON equality: numbers by value, objects regardless of member order.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
            as_f64(a) == as_f64(b)
        }
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Obj(x), Value::Obj(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.iter().any(|(k2, v2)| k == k2 && json_eq(v, v2)))
        }
        _ => a == b,
    }
}

fn project(items: &[Value], rhs: &Node) -> Value {
    Value::List(
        items
            .iter()
            .map(|item| eval(rhs, item))
            .filter(|v| !matches!(v, Value::Null))
            .collect(),
    )
}

fn eval(node: &Node, value: &Value) -> Value {
    match node {
        Node::Identity => value.clone(),
        Node::Field(name) => value.get(name).cloned().unwrap_or(Value::Null),
        Node::Index(i) => match value {
            Value::List(items) => {
                let len = items.len() as i64;
                let idx = if *i < 0 { len + i } else { *i };
                usize::try_from(idx)
                    .ok()
                    .and_then(|idx| items.get(idx))
                    .cloned()
                    .unwrap_or(Value::Null)
            }
            _ => Value::Null,
        },
        Node::Literal(v) => v.clone(),
        Node::Sub(lhs, rhs) => match eval(lhs, value) {
            Value::Null => Value::Null,
            base => eval(rhs, &base),
        },
        Node::Pipe(lhs, rhs) => eval(rhs, &eval(lhs, value)),
        Node::Projection(lhs, rhs) => match eval(lhs, value) {
            Value::List(items) => project(&items, rhs),
            _ => Value::Null,
        },
        Node::ValueProjection(lhs, rhs) => match eval(lhs, value) {
            Value::Obj(members) => {
                let values: Vec<Value> = members.into_iter().map(|(_, v)| v).collect();
                project(&values, rhs)
            }
            _ => Value::Null,
        },
        Node::Filter(lhs, rhs, cond) => match eval(lhs, value) {
            Value::List(items) => {
                let kept: Vec<Value> = items
                    .into_iter()
                    .filter(|item| truthy(&eval(cond, item)))
                    .collect();
                project(&kept, rhs)
            }
            _ => Value::Null,
        },
        Node::Flatten(inner) => match eval(inner, value) {
            Value::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::List(inner) => out.extend(inner),
                        other => out.push(other),
                    }
                }
                Value::List(out)
            }
            _ => Value::Null,
        },
        Node::Or(lhs, rhs) => {
            let l = eval(lhs, value);
            if truthy(&l) {
                l
            } else {
                eval(rhs, value)
            }
        }
        Node::And(lhs, rhs) => {
            let l = eval(lhs, value);
            if truthy(&l) {
                eval(rhs, value)
            } else {
                l
            }
        }
        Node::Not(inner) => Value::Bool(!truthy(&eval(inner, value))),
        Node::Cmp(op, lhs, rhs) => {
            let (l, r) = (eval(lhs, value), eval(rhs, value));
            match op {
                CmpOp::Eq => Value::Bool(json_eq(&l, &r)),
                CmpOp::Ne => Value::Bool(!json_eq(&l, &r)),
                _ => match (as_f64(&l), as_f64(&r)) {
                    (Some(x), Some(y)) => Value::Bool(match op {
                        CmpOp::Lt => x < y,
                        CmpOp::Le => x <= y,
                        CmpOp::Gt => x > y,
                        _ => x >= y,
                    }),
                    _ => Value::Null,
                },
            }
        }
        Node::MultiList(items) => match value {
            Value::Null => Value::Null,
            _ => Value::List(items.iter().map(|n| eval(n, value)).collect()),
        },
        Node::Function(func, args) => {
            let args: Vec<Value> = args.iter().map(|a| eval(a, value)).collect();
            call(*func, args)
        }
        Node::MultiHash(pairs) => match value {
            Value::Null => Value::Null,
            _ => Value::Obj(
                pairs
                    .iter()
                    .map(|(k, n)| (k.clone(), eval(n, value)))
                    .collect(),
            ),
        },
    }
}

/// Compact JSON, as JMESPath's `to_string` produces.
fn compact_json(value: &Value) -> String {
    match value {
        Value::List(items) => format!(
            "[{}]",
            items.iter().map(compact_json).collect::<Vec<_>>().join(",")
        ),
        Value::Obj(members) => format!(
            "{{{}}}",
            members
                .iter()
                .map(|(k, v)| format!(
                    "{}:{}",
                    super::output::to_json(&Value::Str(k.clone())),
                    compact_json(v)
                ))
                .collect::<Vec<_>>()
                .join(",")
        ),
        scalar => super::output::to_json(scalar),
    }
}

/// Applies a function; arguments of the wrong type give null (JMESPath
/// raises an error; null keeps scripts going the way a missing member does).
fn call(func: Func, mut args: Vec<Value>) -> Value {
    let first = if args.is_empty() {
        Value::Null
    } else {
        args.remove(0)
    };
    let second = if args.is_empty() {
        Value::Null
    } else {
        args.remove(0)
    };
    match (func, first, second) {
        (Func::Length, Value::Str(s), _) => Value::Int(s.chars().count() as i64),
        (Func::Length, Value::List(l), _) => Value::Int(l.len() as i64),
        (Func::Length, Value::Obj(m), _) => Value::Int(m.len() as i64),
        (Func::Contains, Value::List(l), needle) => {
            Value::Bool(l.iter().any(|v| json_eq(v, &needle)))
        }
        (Func::Contains, Value::Str(s), Value::Str(needle)) => Value::Bool(s.contains(&needle)),
        (Func::StartsWith, Value::Str(s), Value::Str(p)) => Value::Bool(s.starts_with(&p)),
        (Func::EndsWith, Value::Str(s), Value::Str(p)) => Value::Bool(s.ends_with(&p)),
        (Func::Join, Value::Str(glue), Value::List(items)) => {
            let parts: Option<Vec<String>> = items
                .into_iter()
                .map(|v| match v {
                    Value::Str(s) => Some(s),
                    _ => None,
                })
                .collect();
            parts.map_or(Value::Null, |p| Value::Str(p.join(&glue)))
        }
        (Func::Keys, Value::Obj(m), _) => {
            Value::List(m.into_iter().map(|(k, _)| Value::Str(k)).collect())
        }
        (Func::Values, Value::Obj(m), _) => Value::List(m.into_iter().map(|(_, v)| v).collect()),
        (Func::Sort, Value::List(mut l), _) => {
            if l.iter().all(|v| matches!(v, Value::Str(_))) {
                l.sort_by(|a, b| match (a, b) {
                    (Value::Str(x), Value::Str(y)) => x.cmp(y),
                    _ => std::cmp::Ordering::Equal,
                });
                Value::List(l)
            } else if l.iter().all(|v| as_f64(v).is_some()) {
                l.sort_by(|a, b| {
                    as_f64(a)
                        .partial_cmp(&as_f64(b))
                        .unwrap_or(std::cmp::Ordering::Equal)
                });
                Value::List(l)
            } else {
                Value::Null
            }
        }
        (Func::Reverse, Value::List(mut l), _) => {
            l.reverse();
            Value::List(l)
        }
        (Func::Reverse, Value::Str(s), _) => Value::Str(s.chars().rev().collect()),
        (Func::ToString, Value::Str(s), _) => Value::Str(s),
        (Func::ToString, other, _) => Value::Str(compact_json(&other)),
        (Func::Type, v, _) => Value::Str(
            match v {
                Value::Null => "null",
                Value::Bool(_) => "boolean",
                Value::Int(_) | Value::Float(_) => "number",
                Value::Str(_) => "string",
                Value::List(_) => "array",
                Value::Obj(_) => "object",
            }
            .to_owned(),
        ),
        (Func::NotNull, first, second) => std::iter::once(first)
            .chain(std::iter::once(second))
            .chain(args)
            .find(|v| !matches!(v, Value::Null))
            .unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::Str(v.to_owned())
    }

    fn doc() -> Value {
        Value::Obj(vec![
            (
                "KeyMetadata".into(),
                Value::Obj(vec![
                    ("KeyId".into(), s("k-1")),
                    ("Enabled".into(), Value::Bool(true)),
                    (
                        "EncryptionAlgorithms".into(),
                        Value::List(vec![s("SYMMETRIC_DEFAULT")]),
                    ),
                ]),
            ),
            (
                "Keys".into(),
                Value::List(vec![
                    Value::Obj(vec![
                        ("KeyId".into(), s("a")),
                        ("KeyArn".into(), s("arn:a")),
                    ]),
                    Value::Obj(vec![
                        ("KeyId".into(), s("b")),
                        ("KeyArn".into(), s("arn:b")),
                    ]),
                ]),
            ),
            (
                "Aliases".into(),
                Value::List(vec![
                    Value::Obj(vec![
                        ("AliasName".into(), s("alias/x")),
                        ("TargetKeyId".into(), s("a")),
                    ]),
                    Value::Obj(vec![("AliasName".into(), s("alias/aws/ebs"))]),
                ]),
            ),
            ("Truncated".into(), Value::Bool(false)),
            ("Count".into(), Value::Int(3)),
        ])
    }

    fn q(expr: &str) -> Value {
        Query::parse(expr)
            .unwrap_or_else(|e| panic!("{expr}: {e}"))
            .search(&doc())
    }

    #[test]
    fn member_paths_and_indexes() {
        assert_eq!(q("KeyMetadata.KeyId"), s("k-1"));
        assert_eq!(q("Keys[0].KeyArn"), s("arn:a"));
        assert_eq!(q("Keys[1].KeyId"), s("b"));
        assert_eq!(q("Keys[-1].KeyId"), s("b"));
        assert_eq!(
            q("KeyMetadata.EncryptionAlgorithms[0]"),
            s("SYMMETRIC_DEFAULT")
        );
        assert_eq!(q("\"KeyMetadata\".\"KeyId\""), s("k-1"));
        assert_eq!(q(r#""Key\u004detadata"."KeyId""#), s("k-1"));
        assert_eq!(q(r#"{"a\"b": Count}."a\"b""#), Value::Int(3));
        assert_eq!(q("Truncated"), Value::Bool(false));
        assert_eq!(q("@.Count"), Value::Int(3));
    }

    #[test]
    fn missing_paths_are_null() {
        assert_eq!(q("Nope"), Value::Null);
        assert_eq!(q("KeyMetadata.Nope.Deeper"), Value::Null);
        assert_eq!(q("Keys[5].KeyId"), Value::Null);
        assert_eq!(q("Keys[-9]"), Value::Null);
        assert_eq!(q("KeyMetadata[0]"), Value::Null);
        assert_eq!(q("Count.KeyId"), Value::Null);
    }

    #[test]
    fn projections_filters_and_pipes() {
        assert_eq!(q("Keys[*].KeyId"), Value::List(vec![s("a"), s("b")]));
        assert_eq!(q("Keys[].KeyId"), Value::List(vec![s("a"), s("b")]));
        assert_eq!(
            q("Aliases[?AliasName=='alias/x'].TargetKeyId"),
            Value::List(vec![s("a")])
        );
        assert_eq!(
            q("Aliases[?AliasName=='alias/x'].TargetKeyId | [0]"),
            s("a")
        );
        assert_eq!(
            q("Aliases[?TargetKeyId].AliasName"),
            Value::List(vec![s("alias/x")])
        );
        assert_eq!(
            q("Aliases[?!TargetKeyId].AliasName"),
            Value::List(vec![s("alias/aws/ebs")])
        );
        assert_eq!(
            q("Keys[?KeyId=='a' || KeyId==`\"b\"`].KeyArn"),
            Value::List(vec![s("arn:a"), s("arn:b")])
        );
        assert_eq!(q("Keys[?KeyId!='a'] | length"), Value::Null);
        assert_eq!(q("length(Keys)"), Value::Int(2));
        assert_eq!(q("length(Keys[?KeyId=='zz'])"), Value::Int(0));
        assert_eq!(
            q("Aliases[?starts_with(AliasName, 'alias/aws/')].AliasName"),
            Value::List(vec![s("alias/aws/ebs")])
        );
        assert_eq!(q("contains(Keys[*].KeyId, 'b')"), Value::Bool(true));
        assert_eq!(q("join(',', Keys[*].KeyId)"), s("a,b"));
        assert_eq!(
            q("sort(reverse(Keys[*].KeyId))"),
            Value::List(vec![s("a"), s("b")])
        );
        assert_eq!(
            q("keys(Keys[0])"),
            Value::List(vec![s("KeyId"), s("KeyArn")])
        );
        assert_eq!(q("to_string(Count)"), s("3"));
        assert_eq!(
            q("to_string(Keys[0])"),
            s(r#"{"KeyId":"a","KeyArn":"arn:a"}"#)
        );
        assert_eq!(q("not_null(Nope, Count)"), Value::Int(3));
        assert_eq!(q("type(Truncated)"), s("boolean"));
        assert_eq!(q("length(Count)"), Value::Null);
        assert_eq!(q("Count > `2`"), Value::Bool(true));
        assert_eq!(
            q("Keys[*].[KeyId]"),
            Value::List(vec![Value::List(vec![s("a")]), Value::List(vec![s("b")]),])
        );
        assert_eq!(
            q("Keys[0].{Id: KeyId, Arn: KeyArn}"),
            Value::Obj(vec![("Id".into(), s("a")), ("Arn".into(), s("arn:a"))])
        );
        assert_eq!(
            q("KeyMetadata.*"),
            Value::List(vec![
                s("k-1"),
                Value::Bool(true),
                Value::List(vec![s("SYMMETRIC_DEFAULT")]),
            ])
        );
    }

    #[test]
    fn bad_expressions_are_errors() {
        for bad in [
            "",
            "Keys[",
            "Keys[0",
            "Keys[0:1]",
            "nope(Keys)",
            "length(a, b)",
            "length(",
            "sort_by(Keys, &KeyId)",
            "Keys.(a)",
            "a..b",
            "'open",
            "a ==",
            "&a",
            "Keys[?",
            "{a}",
            "a.[",
            "#",
            "Keys[x]",
            "a b",
        ] {
            let err = Query::parse(bad).expect_err(bad);
            assert!(
                err.to_string().starts_with("Bad value for --query"),
                "{err}"
            );
        }
    }

    #[test]
    fn long_or_deep_expressions_do_not_crash() {
        let deep = "(".repeat(5000) + "a" + &")".repeat(5000);
        assert!(Query::parse(&deep).is_err());
        let long = vec!["a"; 3000].join(".");
        assert!(Query::parse(&long).is_err());
        let ok = vec!["a"; 100].join(".");
        assert_eq!(
            Query::parse(&ok).expect("parses").search(&doc()),
            Value::Null
        );
    }
}
