/** Who may call: the manufacturers' registry the import reads. */
export * from './manufacturers';
