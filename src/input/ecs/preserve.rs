//! Writing a changed snapshot back over the text it was read from, touching only what changed.
//!
//! `sgsim apply` must not rewrite what a call did not change: an address written `10.0.0.5`
//! stays so (the model holds `10.0.0.5/32`), keys keep their order, numbers stay numbers and
//! strings strings. The writer ([`super::write`]) gives the API's shape of a whole snapshot;
//! here both the snapshot before and after the calls are put in that shape, and where the two
//! differ — a rule, a key of a group, an element added or removed — the original text is
//! patched at that spot, in the API's shape. Everything else is copied byte for byte.
//!
//! Raw values (`serde_json`'s `raw_value`) give the byte span of each value in the original
//! text. Elements of the arrays of groups, rules, NICs and lists are matched by id; the loader
//! keeps them one-to-one and in order, and when the text does not line up with the model that
//! way (another shape, a count that differs) the caller writes the whole snapshot instead.

use super::write::snapshot_to_value_beside;
use crate::model::Snapshot;
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::HashMap;

/// `after` written over `original` (the text `before` was loaded from), changing only what
/// differs between `before` and `after`; `None` when the text cannot be lined up with the model.
pub fn patch_snapshot_text(original: &str, before: &Snapshot, after: &Snapshot) -> Option<String> {
    // Unchanged groups, NICs and lists reduced to their ids on both sides: on a whole account,
    // the full shapes would cost seconds and gigabytes to build and compare.
    let old = snapshot_to_value_beside(before, after);
    let new = snapshot_to_value_beside(after, before);
    let body = original.trim_start_matches('\u{feff}');
    let root: &RawValue = serde_json::from_str(body).ok()?;
    // Only the snapshot shape lines up with the writer's shape.
    let keys: HashMap<String, &RawValue> = serde_json::from_str(root.get()).ok()?;
    if keys.contains_key("SecurityGroupId") || keys.contains_key("Permissions") {
        return None;
    }
    let mut patch = Patch {
        text: original,
        edits: Vec::new(),
    };
    patch.value(root, &old, &new)?;
    patch.apply()
}

/// One replacement of `text[start..end]`.
struct Edit {
    start: usize,
    end: usize,
    text: String,
}

struct Patch<'a> {
    text: &'a str,
    edits: Vec<Edit>,
}

/// The id key of the elements of each array the writer produces.
const ID_KEYS: [&str; 6] = [
    "SecurityGroupRuleId",
    "SecurityGroupId",
    "NetworkInterfaceId",
    "PrefixListId",
    "PortRangeListId",
    "ClientToken",
];

impl<'a> Patch<'a> {
    /// Byte span of a raw value inside the original text.
    fn span(&self, raw: &RawValue) -> (usize, usize) {
        let start = raw.get().as_ptr() as usize - self.text.as_ptr() as usize;
        (start, start + raw.get().len())
    }

    /// The whitespace before `at` on its line: the indentation of what starts there.
    fn indent_at(&self, at: usize) -> &'a str {
        let line_start = self.text[..at].rfind('\n').map_or(0, |i| i + 1);
        let before = &self.text[line_start..at];
        if before.chars().all(char::is_whitespace) {
            before
        } else {
            ""
        }
    }

    fn edit(&mut self, start: usize, end: usize, text: String) {
        self.edits.push(Edit { start, end, text });
    }

    /// Replaces the raw value with `new`, pretty-printed at the raw value's indentation.
    fn replace(&mut self, raw: &RawValue, new: &Value) -> Option<()> {
        let (start, end) = self.span(raw);
        let text = pretty(new, self.indent_at(start))?;
        self.edit(start, end, text);
        Some(())
    }

    /// Patches `raw` (whose model form is `old`) so that it reads as `new`.
    fn value(&mut self, raw: &'a RawValue, old: &Value, new: &Value) -> Option<()> {
        if old == new {
            return Some(());
        }
        match (old, new) {
            (Value::Object(old_map), Value::Object(new_map)) => {
                let Ok(fields) = serde_json::from_str::<HashMap<String, &RawValue>>(raw.get())
                else {
                    return self.replace(raw, new);
                };
                // A key the model no longer has: the whole object is written anew.
                if old_map
                    .keys()
                    .any(|k| !new_map.contains_key(k) && fields.contains_key(k))
                {
                    return self.replace(raw, new);
                }
                let mut missing = Vec::new();
                for (key, new_value) in new_map {
                    let old_value = old_map.get(key).unwrap_or(&Value::Null);
                    if old_value == new_value {
                        continue;
                    }
                    match fields.get(key) {
                        Some(raw_value) => self.value(raw_value, old_value, new_value)?,
                        None => missing.push((key, new_value)),
                    }
                }
                if !missing.is_empty() {
                    self.add_keys(raw, fields.is_empty(), &missing)?;
                }
                Some(())
            }
            (Value::Array(old_items), Value::Array(new_items)) => {
                let Ok(raw_items) = serde_json::from_str::<Vec<&RawValue>>(raw.get()) else {
                    return self.replace(raw, new);
                };
                self.array(raw, &raw_items, old_items, new_items)
            }
            _ => self.replace(raw, new),
        }
    }

    /// Adds keys before the closing brace of an object.
    fn add_keys(&mut self, raw: &RawValue, empty: bool, keys: &[(&String, &Value)]) -> Option<()> {
        let (start, end) = self.span(raw);
        let outer = self.indent_at(start);
        let inner = format!("{outer}  ");
        let mut text = String::new();
        for (i, (key, value)) in keys.iter().enumerate() {
            if !empty || i > 0 {
                text.push(',');
            }
            text.push('\n');
            text.push_str(&inner);
            text.push_str(&serde_json::to_string(key).ok()?);
            text.push_str(": ");
            text.push_str(&pretty(value, &inner)?);
        }
        // Just before the closing brace, after the last value (trailing whitespace kept).
        let close = end - 1;
        let last = self.text[start..close].trim_end().len() + start;
        self.edit(last, last, text);
        Some(())
    }

    /// Patches an array whose elements are matched by id (or replaces it whole).
    fn array(
        &mut self,
        raw: &'a RawValue,
        raw_items: &[&'a RawValue],
        old: &[Value],
        new: &[Value],
    ) -> Option<()> {
        let id_of = |v: &Value| -> Option<String> {
            let map = v.as_object()?;
            ID_KEYS
                .iter()
                .find_map(|k| map.get(*k).and_then(Value::as_str).map(str::to_string))
        };
        let old_ids: Option<Vec<String>> = old.iter().map(id_of).collect();
        let new_ids: Option<Vec<String>> = new.iter().map(id_of).collect();
        let (Some(old_ids), Some(new_ids)) = (old_ids, new_ids) else {
            return self.replace(raw, &Value::Array(new.to_vec()));
        };
        if raw_items.len() != old.len() {
            return None;
        }
        // The raw element's own id, when written, must be the model's.
        for (raw_item, id) in raw_items.iter().zip(&old_ids) {
            if let Ok(fields) = serde_json::from_str::<HashMap<String, &RawValue>>(raw_item.get()) {
                if let Some(raw_id) = ID_KEYS.iter().find_map(|k| fields.get(*k)) {
                    let raw_id = serde_json::from_str::<Value>(raw_id.get()).ok();
                    if raw_id
                        .as_ref()
                        .and_then(Value::as_str)
                        .is_some_and(|r| r != id)
                    {
                        return None;
                    }
                }
            }
        }
        let position: HashMap<&str, usize> = old_ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        // Kept elements must keep their order; anything else is written whole.
        let kept: Vec<(usize, usize)> = new_ids
            .iter()
            .enumerate()
            .filter_map(|(n, id)| position.get(id.as_str()).map(|&o| (n, o)))
            .collect();
        if kept.windows(2).any(|w| w[0].1 >= w[1].1) || kept.is_empty() {
            return self.replace(raw, &Value::Array(new.to_vec()));
        }
        let spans: Vec<(usize, usize)> = raw_items.iter().map(|r| self.span(r)).collect();
        let is_kept: Vec<bool> = (0..old.len())
            .map(|o| kept.iter().any(|&(_, k)| k == o))
            .collect();
        // Removed elements: a leading run up to the next element's start, the others from the
        // end of the element before them.
        let first_kept = is_kept.iter().position(|&k| k)?;
        if first_kept > 0 {
            self.edit(spans[0].0, spans[first_kept].0, String::new());
        }
        for o in first_kept + 1..old.len() {
            if !is_kept[o] {
                self.edit(spans[o - 1].1, spans[o].1, String::new());
            }
        }
        // Changed and added elements, in the new order.
        let mut previous: Option<usize> = None;
        for (n, item) in new.iter().enumerate() {
            match position.get(new_ids[n].as_str()) {
                Some(&o) => {
                    self.value(raw_items[o], &old[o], item)?;
                    previous = Some(o);
                }
                None => {
                    let indent = self.indent_at(spans[previous.unwrap_or(first_kept)].0);
                    let text = pretty(item, indent)?;
                    match previous {
                        Some(o) => self.edit(spans[o].1, spans[o].1, format!(",\n{indent}{text}")),
                        None => {
                            let at = spans[first_kept].0;
                            self.edit(at, at, format!("{text},\n{indent}"));
                        }
                    }
                }
            }
        }
        Some(())
    }

    /// The original text with the edits made; `None` if two edits overlap.
    fn apply(mut self) -> Option<String> {
        // Stable: insertions at one spot stay in the order they were made, and come before a
        // removal that starts there.
        self.edits.sort_by_key(|e| (e.start, e.end));
        let mut out = String::with_capacity(self.text.len() + 1024);
        let mut at = 0;
        for edit in &self.edits {
            if edit.start < at {
                return None;
            }
            out.push_str(&self.text[at..edit.start]);
            out.push_str(&edit.text);
            at = edit.end;
        }
        out.push_str(&self.text[at..]);
        Some(out)
    }
}

/// `value` pretty-printed, its lines after the first indented by `indent`.
fn pretty(value: &Value, indent: &str) -> Option<String> {
    let text = serde_json::to_string_pretty(value).ok()?;
    Some(text.replace('\n', &format!("\n{indent}")))
}

/// The new snapshot's text after API calls: the original text with only what changed patched in
/// ([`patch_snapshot_text`]) when it loads back as `after`, else the whole snapshot in the API's
/// shape ([`super::snapshot_to_string`]). `original` is `None` when the snapshot was assembled
/// from several documents, which have no one text to patch.
pub fn rewritten_snapshot_text(
    original: Option<&str>,
    before: &Snapshot,
    after: &Snapshot,
) -> String {
    let whole = super::snapshot_to_string(after);
    if let Some(text) = original.and_then(|original| patch_snapshot_text(original, before, after)) {
        // The patched text must load back as exactly `after` (else it is written whole).
        let same = Snapshot::from_json_str(&text)
            .is_ok_and(|loaded| super::snapshot_to_string(&loaded) == whole);
        if same {
            return text;
        }
    }
    whole
}
