/** The certificates' face to the other capabilities: the inventory, as containment reads it. */
export * from './inventory-store';
