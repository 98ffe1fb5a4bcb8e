// Test support: a tiny JSON Schema checker for the subset the tests use
// (type, properties, required, additionalProperties: false, enum, minimum,
// maximum, minLength, maxLength, items).

/**
 * @param {any} schema
 * @param {any} value
 * @param {string} [at]
 * @returns {string[]} problems; empty when the value is valid
 */
export function schemaErrors(schema, value, at = '$') {
  /** @type {string[]} */
  const errors = [];
  if (!schema || typeof schema !== 'object') return errors;
  const type = schema.type;
  const types = Array.isArray(type) ? type : type ? [type] : [];
  if (types.length && !types.some((t) => hasType(t, value))) {
    errors.push(`${at}: expected ${types.join('|')}, got ${JSON.stringify(value)}`);
    return errors;
  }
  if (schema.enum && !schema.enum.some((/** @type {any} */ e) => JSON.stringify(e) === JSON.stringify(value))) {
    errors.push(`${at}: ${JSON.stringify(value)} not in ${JSON.stringify(schema.enum)}`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${at}: below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${at}: above ${schema.maximum}`);
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) errors.push(`${at}: shorter than ${schema.minLength}`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) errors.push(`${at}: longer than ${schema.maxLength}`);
  }
  if (Array.isArray(value) && schema.items) {
    value.forEach((v, i) => errors.push(...schemaErrors(schema.items, v, `${at}[${i}]`)));
  }
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const props = schema.properties ?? {};
    for (const r of schema.required ?? []) {
      if (!(r in value)) errors.push(`${at}: missing required "${r}"`);
    }
    for (const [k, v] of Object.entries(value)) {
      if (k in props) errors.push(...schemaErrors(props[k], v, `${at}.${k}`));
      else if (schema.additionalProperties === false) errors.push(`${at}: unexpected property "${k}"`);
    }
  }
  return errors;
}

/**
 * @param {string} t
 * @param {any} v
 */
function hasType(t, v) {
  switch (t) {
    case 'object':
      return v !== null && typeof v === 'object' && !Array.isArray(v);
    case 'array':
      return Array.isArray(v);
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return Number.isInteger(v);
    case 'number':
      return typeof v === 'number';
    case 'boolean':
      return typeof v === 'boolean';
    case 'null':
      return v === null;
    default:
      return true;
  }
}
