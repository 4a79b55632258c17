//! A corporate card transaction, as the course generated and reviewed them, and its text form.

use crate::pyfloat::python_float_repr;
use serde::{Deserialize, Serialize};

/// One card transaction with the expense category a reviewer approved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Transaction {
    /// Merchant as printed on the statement.
    pub merchant_name: String,
    /// The merchant's categories (1-3), e.g. `["Survey Software", "SaaS"]`.
    pub merchant_category: Vec<String>,
    /// Department of the card holder.
    pub department: String,
    /// Where the transaction happened.
    pub location: String,
    /// Amount in dollars.
    pub amount: f64,
    /// The card's spend program.
    pub spend_program_name: String,
    /// The trip the spend belongs to, if any.
    pub trip_name: Option<String>,
    /// The expense category (the label the model learns to retrieve).
    pub expense_category: String,
}

impl Transaction {
    /// The text the models see, byte for byte what the course rendered:
    /// `"\nName : {merchant}\nCategory: {a, b}\nDepartment: ...\nLocation: ...\nAmount: {repr}\nCard: {program}\nTrip Name: {trip or unknown}\n"`.
    pub fn render(&self) -> String {
        let trip = match self.trip_name.as_deref() {
            Some(t) if !t.is_empty() => t,
            _ => "unknown",
        };
        format!(
            "\nName : {}\nCategory: {}\nDepartment: {}\nLocation: {}\nAmount: {}\nCard: {}\nTrip Name: {}\n",
            self.merchant_name,
            self.merchant_category.join(", "),
            self.department,
            self.location,
            python_float_repr(self.amount),
            self.spend_program_name,
            trip,
        )
    }
}
