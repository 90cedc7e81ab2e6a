-- The same customers as customers.csv, for the SQLite source. Make the database with
--   sqlite3 customers.db < customers.sql
-- (or on a machine without the sqlite3 command:
--   python3 -c "import sqlite3; sqlite3.connect('customers.db').executescript(open('customers.sql').read())")
CREATE TABLE customers (email TEXT PRIMARY KEY, 名前 TEXT, 住所 TEXT, 電話番号 TEXT);
INSERT INTO customers VALUES ('suzuki@spalo.co.jp', '鈴木一郎', '東京都中央区銀座1-2-3', '03-1234-5678');
INSERT INTO customers VALUES ('tanaka@example.jp', '田中花子', '大阪府大阪市北区梅田1-1 梅田ビル 3F', '06-1234-5678');
