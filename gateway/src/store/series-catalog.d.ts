import type Database from 'better-sqlite3';

export interface SeriesRow {
  name: string;
  unit: string;
}

export declare class SeriesCatalog {
  constructor(db: Database.Database);
  intern(name: string, unit: string): number;
  get(id: number): SeriesRow | undefined;
  name(id: number): string;
  readonly size: number;
  names(): string[];
  reload(): void;
}
