//! WordCount: counts the words of a text file or directory (Flink's WordCount example).
//!
//! ```text
//! wordcount --input PATH --output DIR
//! ```
//! Each line is lowercased and split on every run of characters other than `[a-z0-9_]`
//! (non-ASCII characters after lowercasing are separators); empty tokens are dropped. When
//! the input ends, the job writes one line `word,count` per distinct word into the part
//! files of `DIR` (one `part-<run>-<subtask>-<n>` per subtask that counted words).
//!
//! The counts are keyed state: each word's count lives in a `ValueState`, and an event-time
//! timer at `MAX_TIMESTAMP` (the watermark at the end of bounded input) emits the final
//! count once, so the output holds one line per word rather than one per occurrence.

use strom::connectors::{FileSink, TextFileSource};
use strom::prelude::*;
use strom::MAX_TIMESTAMP;

fn main() {
    strom::main("--input PATH --output DIR", |env| {
        let args = env.args();
        let input: String = args.required("input")?;
        let output: String = args.required("output")?;
        env.add_source("Lines", TextFileSource::new(input))
            .uid("lines")
            .flat_map(tokenize)
            .name("Tokenizer")
            .key_by(|word: &String| word.clone())
            .process(CountWords::default())
            .name("Count")
            .uid("count")
            .map(|(word, count): (String, u64)| format!("{word},{count}"))
            .sink(FileSink::lines(output))
            .name("Word counts")
            .uid("word-counts");
        env.execute("WordCount").map(drop)
    })
}

/// Emits the words of `line`: maximal runs of `[a-z0-9_]` after lowercasing.
fn tokenize(line: String, out: &mut Collector<String>) {
    let mut word = String::new();
    for c in line.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
            word.push(c);
        } else if !word.is_empty() {
            out.collect(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        out.collect(word);
    }
}

/// Counts each word's occurrences and emits `(word, count)` when the input ends.
#[derive(Clone)]
struct CountWords {
    count: ValueState<u64>,
}

impl Default for CountWords {
    fn default() -> Self {
        Self { count: ValueState::new("count") }
    }
}

impl KeyedProcessFunction<String, String, (String, u64)> for CountWords {
    fn process_element(&mut self, _word: String, ctx: &mut KeyedContext<'_, String>, _out: &mut Collector<(String, u64)>) -> FnResult {
        let first = self.count.modify(
            ctx,
            || 0,
            |count| {
                *count += 1;
                *count == 1
            },
        );
        if first {
            ctx.register_event_time_timer(MAX_TIMESTAMP);
        }
        Ok(())
    }

    fn on_timer(
        &mut self,
        _ts: Timestamp,
        _domain: TimeDomain,
        ctx: &mut KeyedContext<'_, String>,
        out: &mut Collector<(String, u64)>,
    ) -> FnResult {
        if let Some(count) = self.count.get(ctx) {
            out.collect((ctx.key().clone(), count));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        let mut out = Collector::new();
        tokenize(line.to_string(), &mut out);
        out.drain_values()
    }

    #[test]
    fn lines_split_on_everything_but_lowercase_ascii_digits_and_underscore() {
        assert_eq!(words("To be, or NOT to_be: 2b?"), vec!["to", "be", "or", "not", "to_be", "2b"]);
        assert_eq!(words("  --  "), Vec::<String>::new());
        assert_eq!(words("naïve café"), vec!["na", "ve", "caf"]);
        assert_eq!(words("tab\tseparated\r"), vec!["tab", "separated"]);
        // KELVIN SIGN lowercases to an ASCII 'k'; DOTTED CAPITAL I to 'i' and a combining dot.
        assert_eq!(words("\u{212A}m \u{130}x"), vec!["km", "i", "x"]);
    }
}
