// Which fields a request selects below the field being resolved, so that a list's resolver can
// start the statements its items' fields will need (DataLoader batches) at once, beside its own,
// rather than after every item's other fields have run: on tables(first: 5000), executing the
// tables' fields takes longer than the statistics statement itself.
import {
  type FieldNode,
  type GraphQLResolveInfo,
  getDirectiveValues,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  Kind,
  type SelectionNode,
} from 'graphql';

/**
 * Whether the operation selects the field path `path` (field names, not aliases) below the field
 * being resolved, through fragments and inline fragments (their type conditions are not checked,
 * so a field of another type with the same name counts: at worst a batch starts that nothing
 * reads). A selection skipped by @skip or @include is not selected.
 */
export function selectsPath(info: GraphQLResolveInfo, path: readonly string[]): boolean {
  let fields: readonly FieldNode[] = info.fieldNodes;
  for (const name of path) {
    fields = fields.flatMap((field) => subfields(info, field.selectionSet?.selections ?? [], name));
    if (fields.length === 0) return false;
  }
  return true;
}

/**
 * The names of the fields the operation selects directly below the field path `path` (below the
 * field being resolved when `path` is empty), through fragments, with @skip and @include: what a
 * resolver's statement must compute for the objects it returns.
 */
export function selectedFields(info: GraphQLResolveInfo, path: readonly string[] = []): Set<string> {
  let fields: readonly FieldNode[] = info.fieldNodes;
  for (const name of path) fields = fields.flatMap((field) => subfields(info, field.selectionSet?.selections ?? [], name));
  const names = new Set<string>();
  for (const field of fields) collectNames(info, field.selectionSet?.selections ?? [], names);
  return names;
}

function collectNames(info: GraphQLResolveInfo, selections: readonly SelectionNode[], names: Set<string>): void {
  for (const selection of selections) {
    if (!included(info, selection)) continue;
    if (selection.kind === Kind.FIELD) names.add(selection.name.value);
    else if (selection.kind === Kind.INLINE_FRAGMENT) collectNames(info, selection.selectionSet.selections, names);
    else {
      const fragment = info.fragments[selection.name.value];
      if (fragment) collectNames(info, fragment.selectionSet.selections, names);
    }
  }
}

function subfields(info: GraphQLResolveInfo, selections: readonly SelectionNode[], name: string): FieldNode[] {
  const found: FieldNode[] = [];
  for (const selection of selections) {
    if (!included(info, selection)) continue;
    if (selection.kind === Kind.FIELD) {
      if (selection.name.value === name) found.push(selection);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      found.push(...subfields(info, selection.selectionSet.selections, name));
    } else {
      const fragment = info.fragments[selection.name.value];
      if (fragment) found.push(...subfields(info, fragment.selectionSet.selections, name));
    }
  }
  return found;
}

function included(info: GraphQLResolveInfo, selection: SelectionNode): boolean {
  if (!selection.directives?.length) return true;
  if (getDirectiveValues(GraphQLSkipDirective, selection, info.variableValues)?.if === true) return false;
  return getDirectiveValues(GraphQLIncludeDirective, selection, info.variableValues)?.if !== false;
}
