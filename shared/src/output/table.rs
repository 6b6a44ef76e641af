//! kubectl-style tables on comfy-table: no borders, upper-case headers, columns three spaces
//! apart, no trailing blanks. Colour is a property of a cell, never escape codes in its text, so
//! widths stay right and `NO_COLOR` output is byte-for-byte the plain table.

use std::io::Write;

use comfy_table::{CellAlignment, ContentArrangement, presets::NOTHING};

use super::Style;

/// The colour of a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Default colour.
    Normal,
    /// Green.
    Good,
    /// Yellow.
    Warn,
    /// Red.
    Bad,
    /// Dim grey.
    Dim,
}

/// One cell: text and tone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// The text.
    pub text: String,
    /// The colour on a terminal.
    pub tone: Tone,
}

impl Cell {
    /// A cell in the given tone.
    pub fn new(text: impl Into<String>, tone: Tone) -> Self {
        Self {
            text: text.into(),
            tone,
        }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Self::new(text, Tone::Normal)
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        Self::new(text, Tone::Normal)
    }
}

/// A table being built.
#[derive(Debug, Clone)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    /// A table with these headers.
    pub fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are blank.
    pub fn row(&mut self, cells: Vec<Cell>) -> &mut Self {
        self.rows.push(cells);
        self
    }

    /// True when no row was added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Writes the table without colour.
    pub fn write(&self, out: &mut dyn Write) -> std::io::Result<()> {
        self.write_styled(out, &Style::plain())
    }

    /// Writes the table, coloured when `style` says so.
    pub fn write_styled(&self, out: &mut dyn Write, style: &Style) -> std::io::Result<()> {
        let mut table = comfy_table::Table::new();
        table
            .load_style(NOTHING)
            .set_content_arrangement(ContentArrangement::Disabled);
        if style.color() {
            table.enforce_styling();
        } else {
            table.force_no_tty();
        }
        table.set_header(self.headers.iter().map(comfy_table::Cell::new));
        for row in &self.rows {
            table.add_row(row.iter().map(|c| to_comfy(c, style.color())));
        }
        for column in table.column_iter_mut() {
            column.set_padding((0, 3));
            column.set_cell_alignment(CellAlignment::Left);
        }
        for line in table.lines() {
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

fn to_comfy(cell: &Cell, color: bool) -> comfy_table::Cell {
    let c = comfy_table::Cell::new(&cell.text);
    if !color {
        return c;
    }
    match cell.tone {
        Tone::Normal => c,
        Tone::Good => c.fg(comfy_table::Color::Green),
        Tone::Warn => c.fg(comfy_table::Color::Yellow),
        Tone::Bad => c.fg(comfy_table::Color::Red),
        Tone::Dim => c.fg(comfy_table::Color::DarkGrey),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_like_kubectl_without_trailing_blanks() {
        let mut t = Table::new(&["NAME", "STATUS", "AGE"]);
        t.row(vec![
            "worker-1".into(),
            Cell::new("Ready", Tone::Good),
            "5d".into(),
        ]);
        t.row(vec!["w2".into(), Cell::new("NotReady", Tone::Bad)]);
        let mut out = Vec::new();
        t.write(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "NAME       STATUS     AGE\nworker-1   Ready      5d\nw2         NotReady\n"
        );
    }
}
