/** SQL numbers (numeric and float come back as strings or numbers) to one decimal; null stays null. */
export const oneDecimal = (value: unknown) =>
  value === null || value === undefined ? null : Math.round(Number(value) * 10) / 10;
