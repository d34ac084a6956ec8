import { sql, type CommonQueryMethods } from 'slonik';

/**
 * A revision's SQL files hold several statements, and slonik sends one statement per query (its driver refuses a
 * result of several, gajus/slonik#769). So the file travels as a bound value, into a transaction-local setting, and
 * PL/pgSQL's EXECUTE runs it on the server: every statement in order, each parsed just before it runs (DDL followed by
 * DML that uses it works), in the caller's transaction. The file's text is never spliced into a query.
 */
const SQL_FILE_SETTING = 'valhalla.sql_file';

const stage = async (tx: CommonQueryMethods, text: string): Promise<void> => {
  await tx.query(sql.unsafe`SELECT set_config(${SQL_FILE_SETTING}, ${text}, true)`);
};

/** Runs every statement of an up or down file in the caller's transaction; rows they return are discarded. */
export const runSqlFile = async (tx: CommonQueryMethods, text: string): Promise<void> => {
  await stage(tx, text);
  await tx.query(sql.unsafe`DO ${sql.literalValue(`BEGIN EXECUTE current_setting('${SQL_FILE_SETTING}'); END`)}`);
};

/**
 * The rows of a file that is one query (verify.sql), read through a cursor PL/pgSQL opens on it: a file of several
 * statements fails ("cannot open multi-query plan as cursor"). Makes the caller's transaction read-only first (the file
 * can change nothing, and committing it equals rolling it back). Once per transaction: the cursor stays open until it
 * ends.
 */
export const querySqlFile = async (tx: CommonQueryMethods, text: string): Promise<readonly Record<string, unknown>[]> => {
  // One round trip for both settings.
  await tx.query(sql.unsafe`SELECT set_config('transaction_read_only', 'on', true), set_config(${SQL_FILE_SETTING}, ${text}, true)`);
  await tx.query(
    sql.unsafe`DO ${sql.literalValue(`DECLARE file refcursor := 'valhalla_sql_file'; BEGIN OPEN file FOR EXECUTE current_setting('${SQL_FILE_SETTING}'); END`)}`,
  );
  return tx.any(sql.unsafe`FETCH ALL FROM valhalla_sql_file`) as Promise<readonly Record<string, unknown>[]>;
};
