/// The mail each event sends unless the config gives its own subject or body.
/// Japanese, plain text; every field the event has, and for a finished chat
/// the whole transcript.
enum DefaultTemplates {
    static func subject(for event: String) -> String {
        switch event {
        case "chat-start": "[チャット開始] チャットID {{chat_id}}"
        case "chat-message": "[チャット受信] {{post_user}}: {{msg}}"
        case "chat-end": "[チャット終了] チャットID {{chat_id}}"
        case "scenario": "[シナリオ発動] チャットID {{chat_id}}"
        case "form": "[フォーム回答] {{#subject}}{{subject}}{{/subject}}{{^subject}}チャットID {{chat_id}}{{/subject}}"
        case "dataset": "[SPALO 外部データ設定] {{botName}} {{item_name}}"
        case "search": "[SPALO データ参照] {{botName}} {{item_name}}"
        case "send": "[SPALO データ送信] {{botName}} {{senderName}}"
        default: "[chathooks] {{event}}"
        }
    }

    static let visitor = """
    訪問者ID: {{visitor_id}}
    {{#visitor_key}}訪問者キー: {{visitor_key}}
    {{/visitor_key}}
    {{#page_title}}ページ: {{page_title}}
    {{/page_title}}
    {{#page_url}}URL: {{page_url}}
    {{/page_url}}
    """

    /// What a dataset and a search call share: the bot, the item and what it has collected.
    static let spaloRequest = """
    ボット: {{botName}}
    項目: {{item_name}}
    日時: {{eventTime}}
    {{#info}}ユーザー: {{userName}} ({{userId}}) {{email}}
    {{/info}}

    ---- 入力済みデータ ----
    {{#data}}
    {{title}} [{{id}}]: {{value}}
    {{/data}}
    """

    static func body(for event: String) -> String {
        let footer = "\n--\nchathooks {{source}}/{{event}} {{request_id}}\n受信: {{received_at}}\n"
        switch event {
        case "chat-start":
            return """
            チャットが開始されました。

            日時: {{event_date}}
            チャットID: {{chat_id}}
            \(visitor)\
            {{#ip}}IPアドレス: {{ip}}
            {{/ip}}
            {{#visit_count}}訪問回数: {{visit_count}}
            {{/visit_count}}
            """ + footer
        case "chat-message":
            return """
            チャットでメッセージを受信しました。

            日時: {{post_date}}
            送信者: {{post_user}} ({{msg_type}})
            チャットID: {{chat_id}}
            \(visitor)
            {{msg}}
            """ + footer
        case "chat-end":
            return """
            チャットが終了しました。

            チャットID: {{chat_id}}
            開始: {{start_date}}
            終了: {{end_date}}
            \(visitor)
            ---- 会話内容 ----
            {{#chat_detail}}
            [{{post_date}}] {{post_user}}
            {{msg}}

            {{/chat_detail}}
            {{^chat_detail}}
            (メッセージはありません)
            {{/chat_detail}}
            """ + footer
        case "scenario":
            return """
            シナリオのアクションが発動しました。

            日時: {{event_date}}
            チャットID: {{chat_id}}
            \(visitor)
            ---- 固定パラメータ ----
            {{#parameters}}
            {{key}}: {{value}}
            {{/parameters}}
            """ + footer
        case "form":
            return """
            フォームが送信されました。

            日時: {{event_date}}
            チャットID: {{chat_id}}
            訪問者ID: {{visitor_id}}
            {{#subject}}件名: {{subject}}
            {{/subject}}
            {{#content}}
            内容:
            {{content}}
            {{/content}}

            ---- 回答 ----
            {{#item}}
            {{item_name}}: {{item_value}}
            {{/item}}
            {{#agree_optin_text}}オプトインの同意: {{agree_optin_text}}
            {{/agree_optin_text}}
            {{#agree_privacy_policy_text}}個人情報保護方針への同意: {{agree_privacy_policy_text}}
            {{/agree_privacy_policy_text}}
            """ + footer
        case "dataset":
            return "SPALO の「外部データ設定」が呼ばれました。\n\n" + spaloRequest + footer
        case "search":
            return "SPALO の「データ参照」が呼ばれました。\n\n" + spaloRequest + footer
        case "send":
            return """
            SPALO からデータが送信されました。

            ボット: {{botName}} ({{botId}})
            ワークスペース: {{workspaceName}}
            グループ: {{groupName}}
            送信者: {{senderName}} ({{senderId}})
            {{#historyId}}履歴ID: {{historyId}}
            {{/historyId}}
            {{#info}}ユーザー: {{userName}} ({{userId}}) {{email}}
            {{/info}}

            ---- 回答 ----
            {{#dataDetail}}
            {{title}}: {{value}}
            {{/dataDetail}}
            """ + footer
        default:
            return "{{event}} {{request_id}}\n"
        }
    }
}
